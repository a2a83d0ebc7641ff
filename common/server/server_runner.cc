#include "common/server/server_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <random>

#include <google/protobuf/descriptor.h>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/rpc_service_method.h>
#include <grpcpp/impl/service_type.h>
#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "common/logging/log.h"
#include "common/server/mutex_settings.h"
#include "common/tls/health_listener.h"
#include "common/tls/tls.h"

namespace clerkship {

// Counts unary RPCs of the registered services in flight and turns away those beyond the
// limit, before any service code runs.
class AdmissionControl {
 public:
  AdmissionControl(int64_t limit, prometheus::Counter* rejected)
      : limit_(limit), rejected_(rejected) {}

  bool TryAcquire() {
    if (limit_ <= 0) {
      in_flight_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    if (in_flight_.fetch_add(1, std::memory_order_relaxed) < limit_) return true;
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    rejected_->Increment();
    WarnAtMostEverySecond();
    return false;
  }
  void Release() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  int64_t limit() const { return limit_; }

 private:
  void WarnAtMostEverySecond() {
    int64_t now = absl::GetCurrentTimeNanos();
    int64_t last = last_warning_ns_.load(std::memory_order_relaxed);
    if (now - last < 1000000000) return;
    if (!last_warning_ns_.compare_exchange_strong(last, now)) return;
    log::Warning("overloaded: rejecting calls with RESOURCE_EXHAUSTED",
                 {{"max_inflight_rpcs", absl::StrCat(limit_)},
                  {"rejected_total", absl::StrCat(rejected_->Value())}});
  }

  const int64_t limit_;
  prometheus::Counter* const rejected_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> last_warning_ns_{0};
};

namespace {

constexpr char kRequestIdHeader[] = "x-request-id";
constexpr char kLivenessServiceName[] = "liveness";
// Trailing-metadata mark by which the admission handler tells the interceptor that it
// turned a call away; the interceptor removes it and sets the status the client sees.
constexpr char kShedMark[] = "x-clerkship-shed";

std::string NewRequestId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t v = rng();
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i) {
    id[i] = kHex[v & 0xf];
    v >>= 4;
  }
  return id;
}

const char* CodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  int c = static_cast<int>(code);
  return (c >= 0 && c <= 16) ? kNames[c] : "UNKNOWN";
}

constexpr int kCodeCount = 17;

}  // namespace

// The metric children of one method, looked up once: label lookups in a Prometheus family
// take a lock and hash the labels, too much to do on every call.
struct MethodStats {
  std::string name;
  bool access_logged = true;  // false for health checks and reflection
  bool admission_controlled = false;
  prometheus::Histogram* latency = nullptr;
  std::array<std::atomic<prometheus::Counter*>, kCodeCount> handled{};
};

struct RpcMetrics {
  prometheus::Family<prometheus::Counter>* handled = nullptr;
  prometheus::Family<prometheus::Histogram>* latency = nullptr;
  AccessLogPolicy access_log;
  std::atomic<uint64_t> calls{0};
  // Filled before the server starts and never changed after: read without a lock.
  absl::flat_hash_map<std::string, std::unique_ptr<MethodStats>> known;
  // Methods nobody registered (unknown names, answered UNIMPLEMENTED): a lock is fine.
  absl::Mutex unknown_mu;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodStats>> unknown
      ABSL_GUARDED_BY(unknown_mu);

  static const prometheus::Histogram::BucketBoundaries& Buckets() {
    static const auto* kBuckets = new prometheus::Histogram::BucketBoundaries{
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    return *kBuckets;
  }

  std::unique_ptr<MethodStats> NewStats(absl::string_view method) {
    auto stats = std::make_unique<MethodStats>();
    stats->name = std::string(method);
    stats->access_logged = !absl::StartsWith(method, "/grpc.");
    stats->latency = &latency->Add({{"grpc_method", stats->name}}, Buckets());
    return stats;
  }

  // Before Start only.
  void AddKnown(absl::string_view method, bool admission_controlled) {
    auto& slot = known[method];
    if (slot == nullptr) slot = NewStats(method);
    slot->admission_controlled = admission_controlled;
  }

  MethodStats* Find(absl::string_view method) {
    auto it = known.find(method);
    if (it != known.end()) return it->second.get();
    absl::MutexLock lock(&unknown_mu);
    auto& slot = unknown[method];
    if (slot == nullptr) slot = NewStats(method);
    return slot.get();
  }

  prometheus::Counter* HandledCounter(MethodStats* stats, grpc::StatusCode code) {
    int c = static_cast<int>(code);
    if (c < 0 || c >= kCodeCount) c = static_cast<int>(grpc::StatusCode::UNKNOWN);
    prometheus::Counter* counter = stats->handled[c].load(std::memory_order_acquire);
    if (counter == nullptr) {
      // Family::Add returns the same child for the same labels, so a race is harmless.
      counter = &handled->Add({{"grpc_method", stats->name}, {"grpc_code", CodeName(code)}});
      stats->handled[c].store(counter, std::memory_order_release);
    }
    return counter;
  }
};

namespace {

class ObservabilityInterceptor : public grpc::experimental::Interceptor {
 public:
  ObservabilityInterceptor(grpc::experimental::ServerRpcInfo* info, RpcMetrics* metrics)
      : stats_(metrics->Find(info->method())),
        metrics_(metrics),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      auto* md = methods->GetRecvInitialMetadata();
      auto it = md->find(kRequestIdHeader);
      if (it != md->end() && it->second.size() > 0 && it->second.size() <= 128) {
        request_id_.assign(it->second.data(), it->second.size());
      } else {
        request_id_ = NewRequestId();
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      if (request_id_.empty()) request_id_ = NewRequestId();
      methods->GetSendInitialMetadata()->emplace(kRequestIdHeader, request_id_);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      bool shed = false;
      if (stats_->admission_controlled) {
        auto* trailers = methods->GetSendTrailingMetadata();
        auto it = trailers->find(kShedMark);
        if (it != trailers->end()) {
          trailers->erase(it);
          shed = true;
          methods->ModifySendStatus(grpc::Status(
              grpc::StatusCode::RESOURCE_EXHAUSTED,
              "server overloaded: too many calls in flight, retry with backoff"));
        }
      }
      Record(shed ? grpc::StatusCode::RESOURCE_EXHAUSTED : methods->GetSendStatus().error_code(),
             shed);
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code, bool shed) {
    auto elapsed = std::chrono::steady_clock::now() - start_;
    double seconds = std::chrono::duration<double>(elapsed).count();
    metrics_->HandledCounter(stats_, code)->Increment();
    stats_->latency->Observe(seconds);
    // Turned-away calls are counted (grpc_server_overload_rejected_total) and reported
    // once a second; a line for each would only add to the overload.
    if (!stats_->access_logged || shed) return;
    const AccessLogPolicy& policy = metrics_->access_log;
    bool failed = code != grpc::StatusCode::OK;
    bool log_it = failed || absl::FromChrono(elapsed) >= policy.slow;
    if (!log_it) {
      switch (policy.mode) {
        case AccessLogPolicy::Mode::kAll:
          log_it = true;
          break;
        case AccessLogPolicy::Mode::kSampled:
          log_it = metrics_->calls.fetch_add(1, std::memory_order_relaxed) %
                       static_cast<uint64_t>(policy.sample_every) == 0;
          break;
        case AccessLogPolicy::Mode::kErrors:
          break;
      }
    }
    if (!log_it) return;
    log::Severity severity = log::Severity::kInfo;
    if (code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::UNKNOWN ||
        code == grpc::StatusCode::DATA_LOSS) {
      severity = log::Severity::kError;
    }
    if (!log::Enabled(severity)) return;
    log::Write(severity, "rpc",
               {{"method", stats_->name},
                {"code", CodeName(code)},
                {"duration_ms", absl::StrFormat("%.3f", seconds * 1000)},
                {"request_id", request_id_}});
  }

  MethodStats* stats_;
  RpcMetrics* metrics_;
  std::chrono::steady_clock::time_point start_;
  std::string request_id_;
};

class ObservabilityInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ObservabilityInterceptorFactory(RpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new ObservabilityInterceptor(info, metrics_);
  }

 private:
  RpcMetrics* metrics_;
};

// Stands between gRPC and one method's handler. A unary call is admitted if fewer than
// the limit are in flight and counted until it is done; otherwise the service is not
// called at all: the handler is run with a failed request status, which makes gRPC answer
// at once (UNIMPLEMENTED, which the interceptor, seeing the mark, turns into
// RESOURCE_EXHAUSTED). Streaming calls pass through unlimited.
//
// This relies on gRPC's callback handler interface (grpcpp/impl/rpc_service_method.h,
// grpcpp/support/server_callback_handlers.h, gRPC 1.51): a handler given a non-OK
// HandlerParameter::status finishes the call without calling the service.
class AdmittingHandler : public grpc::internal::MethodHandler {
 public:
  AdmittingHandler(grpc::internal::MethodHandler* inner, AdmissionControl* admission,
                   bool unary)
      : inner_(inner), admission_(admission), unary_(unary) {}

  void RunHandler(const HandlerParameter& param) override {
    if (!unary_) return inner_->RunHandler(param);
    if (admission_->TryAcquire()) {
      AdmissionControl* admission = admission_;
      // gRPC calls the requester when the call is completely done.
      HandlerParameter admitted(param.call, param.server_context, param.request, param.status,
                                param.internal_data,
                                [admission, done = param.call_requester] {
                                  admission->Release();
                                  done();
                                });
      return inner_->RunHandler(admitted);
    }
    param.server_context->AddTrailingMetadata(kShedMark, "1");
    HandlerParameter rejected(param.call, param.server_context, param.request,
                              grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "overloaded"),
                              param.internal_data, param.call_requester);
    inner_->RunHandler(rejected);
  }

  void* Deserialize(grpc_call* call, grpc_byte_buffer* req, grpc::Status* status,
                    void** handler_data) override {
    return inner_->Deserialize(call, req, status, handler_data);
  }

 private:
  grpc::internal::MethodHandler* const inner_;  // owned by the wrapped service
  AdmissionControl* const admission_;
  const bool unary_;
};

// The methods of a callback service, each behind an AdmittingHandler; registered with
// gRPC instead of the service itself (which keeps owning the real handlers).
class AdmittingService : public grpc::Service {
 public:
  // Null when `service` cannot be wrapped (not entirely callback-API, or no descriptor):
  // it is then registered as it is, without the limit.
  static std::unique_ptr<AdmittingService> Wrap(grpc::Service* service,
                                                const std::string& full_name,
                                                AdmissionControl* admission) {
    if (!service->has_callback_methods() || service->has_async_methods() ||
        service->has_synchronous_methods() || service->has_generic_methods()) {
      return nullptr;
    }
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(full_name);
    if (descriptor == nullptr) return nullptr;
    return std::unique_ptr<AdmittingService>(
        new AdmittingService(service, descriptor, admission));
  }

  std::vector<std::string> unary_methods() const { return unary_methods_; }

 private:
  AdmittingService(grpc::Service* service, const google::protobuf::ServiceDescriptor* descriptor,
                   AdmissionControl* admission) {
    // GetHandler is protected in grpc::Service; a pointer to it named through this
    // derived class may be applied to any Service.
    grpc::internal::MethodHandler* (grpc::Service::*get_handler)(int) =
        &AdmittingService::GetHandler;
    names_.reserve(descriptor->method_count());
    for (int i = 0; i < descriptor->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = descriptor->method(i);
      names_.push_back(absl::StrCat("/", descriptor->full_name(), "/", m->name()));
      grpc::internal::RpcMethod::RpcType type =
          m->client_streaming()
              ? (m->server_streaming() ? grpc::internal::RpcMethod::BIDI_STREAMING
                                       : grpc::internal::RpcMethod::CLIENT_STREAMING)
              : (m->server_streaming() ? grpc::internal::RpcMethod::SERVER_STREAMING
                                       : grpc::internal::RpcMethod::NORMAL_RPC);
      bool unary = type == grpc::internal::RpcMethod::NORMAL_RPC;
      if (unary) unary_methods_.push_back(names_.back());
      auto* method = new grpc::internal::RpcServiceMethod(
          names_.back().c_str(), type,
          new AdmittingHandler((service->*get_handler)(i), admission, unary));
      AddMethod(method);
      method->SetServerApiType(grpc::internal::RpcServiceMethod::ApiType::CALL_BACK);
    }
  }

  std::vector<std::string> names_;  // reserved up front: RpcMethod keeps the c_str()
  std::vector<std::string> unary_methods_;
};

// Self-pipe: the handler only writes a byte, which is async-signal-safe.
int g_signal_pipe[2] = {-1, -1};

void OnTerminationSignal(int signo) {
  unsigned char b = static_cast<unsigned char>(signo);
  ssize_t ignored = write(g_signal_pipe[1], &b, 1);
  (void)ignored;
}

}  // namespace

ServerRunner::ServerRunner(ServerOptions options)
    : options_(std::move(options)), registry_(std::make_shared<prometheus::Registry>()) {}

ServerRunner::~ServerRunner() {
  if (redis_ != nullptr) redis_->SetHealthListener(nullptr);
  if (server_ != nullptr) {
    bool done;
    {
      absl::MutexLock lock(&mu_);
      done = shut_down_;
    }
    if (!done) server_->Shutdown(std::chrono::system_clock::now());
  }
}

void ServerRunner::AddService(grpc::Service* service, const std::string& full_name) {
  services_.push_back(service);
  service_names_.push_back(full_name);
}

void ServerRunner::TrackRedisHealth(redis::Client* client) { redis_ = client; }

std::string ServerRunner::address() const { return absl::StrCat("127.0.0.1:", port_); }

int64_t ServerRunner::inflight_rpcs() const {
  return admission_ == nullptr ? 0 : admission_->in_flight();
}

absl::Status ServerRunner::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  rpc_metrics_ = std::make_unique<RpcMetrics>();
  RpcMetrics* metrics = rpc_metrics_.get();
  metrics->handled = &prometheus::BuildCounter()
                          .Name("grpc_server_handled_total")
                          .Help("RPCs completed on the server, by method and status code.")
                          .Register(*registry_);
  metrics->latency = &prometheus::BuildHistogram()
                          .Name("grpc_server_handling_seconds")
                          .Help("Time from receiving an RPC to sending its status, by method.")
                          .Register(*registry_);
  metrics->access_log = options_.access_log;
  prometheus::Counter& rejected =
      prometheus::BuildCounter()
          .Name("grpc_server_overload_rejected_total")
          .Help("Calls turned away with RESOURCE_EXHAUSTED because --max_inflight_rpcs "
                "calls were in flight.")
          .Register(*registry_)
          .Add({});
  admission_ = std::make_unique<AdmissionControl>(options_.max_inflight_rpcs, &rejected);
  // Every method's metric children exist before the first call, so that calls only read.
  for (const char* method :
       {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}) {
    metrics->AddKnown(method, false);
  }
  std::vector<grpc::Service*> to_register;
  for (size_t i = 0; i < services_.size(); ++i) {
    std::unique_ptr<AdmittingService> admitting =
        AdmittingService::Wrap(services_[i], service_names_[i], admission_.get());
    if (admitting == nullptr) {
      log::Warning("service registered without the in-flight limit (not a callback service)",
                   {{"service", service_names_[i]}});
      to_register.push_back(services_[i]);
    } else {
      to_register.push_back(admitting.get());
      admitting_services_.push_back(std::move(admitting));
    }
    if (const google::protobuf::ServiceDescriptor* d =
            google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
                service_names_[i])) {
      for (int m = 0; m < d->method_count(); ++m) {
        const google::protobuf::MethodDescriptor* method = d->method(m);
        bool unary = !method->client_streaming() && !method->server_streaming();
        metrics->AddKnown(absl::StrCat("/", d->full_name(), "/", method->name()),
                          unary && to_register.back() != services_[i]);
      }
    }
  }

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen_address,
                           options_.credentials != nullptr ? options_.credentials
                                                           : grpc::InsecureServerCredentials(),
                           &port_);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  for (grpc::Service* s : to_register) builder.RegisterService(s);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<ObservabilityInterceptorFactory>(metrics));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.listen_address, " (port in use?)"));
  }
  if (!options_.health_listen_address.empty()) {
    health_listener_ = std::make_unique<tls::PlaintextHealthListener>(
        server_.get(), options_.health_listen_address);
    if (absl::Status s = health_listener_->Start(); !s.ok()) return s;
  }
  if (options_.metrics_port > 0) {
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(
          absl::StrCat("0.0.0.0:", options_.metrics_port));
      exposer_->RegisterCollectable(registry_);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("cannot serve metrics on port ",
                                                 options_.metrics_port, ": ", e.what()));
    }
  }
  if (redis_ != nullptr) {
    redis_->SetHealthListener([this](bool) { ApplyHealth(); });
  }
  ApplyHealth();
  log::Info("serving", {{"address", options_.listen_address},
                        {"port", absl::StrCat(port_)},
                        {"metrics_port", absl::StrCat(options_.metrics_port)}});
  return absl::OkStatus();
}

void ServerRunner::SetServing(bool serving) {
  {
    absl::MutexLock lock(&mu_);
    want_serving_ = serving;
  }
  ApplyHealth();
}

void ServerRunner::ApplyHealth() {
  if (server_ == nullptr) return;
  bool serving;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    serving = want_serving_ && !draining_ && (redis_ == nullptr || redis_->healthy());
  }
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus("", serving);
  for (const std::string& name : service_names_) health->SetServingStatus(name, serving);
  // "liveness" only says the process answers: a Redis outage must not get pods restarted.
  health->SetServingStatus(kLivenessServiceName, true);
}

void ServerRunner::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_ || draining_) return;
    draining_ = true;
  }
  ApplyHealth();
  log::Info("draining", {{"drain_period", absl::FormatDuration(options_.drain_period)}});
  absl::SleepFor(options_.drain_period);
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
  }
  if (redis_ != nullptr) redis_->SetHealthListener(nullptr);
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoNanoseconds(options_.shutdown_deadline));
  log::Info("stopped");
  log::Flush();
}

void ServerRunner::RunUntilSignalled() {
  if (g_signal_pipe[0] < 0) {
    if (pipe(g_signal_pipe) != 0) {
      log::Error("cannot create the signal pipe");
      return;
    }
    fcntl(g_signal_pipe[1], F_SETFL, O_NONBLOCK);
  }
  struct sigaction sa = {};
  sa.sa_handler = OnTerminationSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  unsigned char signo = 0;
  while (read(g_signal_pipe[0], &signo, 1) < 0 && errno == EINTR) {
  }
  log::Info("termination signal received", {{"signal", absl::StrCat(signo)}});
  Shutdown();
}

absl::StatusOr<AccessLogPolicy> ParseAccessLogPolicy(absl::string_view text) {
  AccessLogPolicy policy;
  if (text == "all") {
    policy.mode = AccessLogPolicy::Mode::kAll;
  } else if (text == "errors") {
    policy.mode = AccessLogPolicy::Mode::kErrors;
  } else if (absl::ConsumePrefix(&text, "sampled:") &&
             absl::SimpleAtoi(text, &policy.sample_every) && policy.sample_every >= 1) {
    policy.mode = AccessLogPolicy::Mode::kSampled;
  } else {
    return absl::InvalidArgumentError("must be all, errors or sampled:N with N >= 1");
  }
  return policy;
}

void AddServerFlags(Config* config, int default_port, int default_metrics_port) {
  config->AddInt("port", default_port, "gRPC listening port", 0, 65535);
  config->AddString("listen_host", "0.0.0.0", "address the gRPC server binds to", CheckNonEmpty);
  config->AddInt("metrics_port", default_metrics_port,
                 "port of the Prometheus /metrics endpoint (0 disables it)", 0, 65535);
  config->AddDuration("drain_period", absl::Seconds(5),
                      "after SIGTERM, time spent NOT_SERVING before the server stops");
  config->AddDuration("shutdown_deadline", absl::Seconds(10),
                      "time in-flight RPCs get to finish after the drain");
  config->AddString(
      "access_log", "errors",
      "which RPCs get a JSON access-log line: 'errors' (calls that failed, i.e. any code but "
      "OK, and calls slower than --access_log_slow), 'sampled:N' (those, and one other call "
      "in N) or 'all' (every call; costs throughput under load). Health checks and "
      "reflection are never logged; INTERNAL, UNKNOWN and DATA_LOSS are logged as errors",
      [](const std::string& v) {
        absl::StatusOr<AccessLogPolicy> policy = ParseAccessLogPolicy(v);
        return policy.ok() ? std::string() : std::string(policy.status().message());
      });
  config->AddDuration("access_log_slow", absl::Milliseconds(500),
                      "calls taking at least this long are access-logged whatever --access_log "
                      "says", absl::ZeroDuration());
  config->AddInt("max_inflight_rpcs", 1000,
                 "unary RPCs served at once; beyond it new calls are answered "
                 "RESOURCE_EXHAUSTED at once, without reaching the service (health checks "
                 "and reflection are exempt); 0: no limit",
                 0, 1000000);
  config->AddString("log_level", "info", "debug, info, warning or error",
                    [](const std::string& v) {
                      return CheckOneOf(v, {"debug", "info", "warning", "error"});
                    });
  tls::AddServerTlsFlags(config);
  config->AddInt("health_port", 0,
                 "plaintext port serving only grpc.health.v1 Check, for Kubernetes gRPC probes "
                 "when the main port requires TLS (0: none)",
                 0, 65535);
}

void AddRedisFlags(Config* config) {
  config->AddString("redis_addr", "127.0.0.1:6379",
                    "Redis master host:port (ignored when --redis_sentinels is set)",
                    CheckHostPort);
  config->AddString("redis_password", "", "Redis AUTH password (empty: no AUTH)");
  config->AddString("redis_sentinels", "",
                    "comma-separated Sentinel host:port list; the master is looked up there",
                    CheckHostPortList);
  config->AddString("redis_master_name", "mymaster", "master name monitored by the Sentinels",
                    CheckNonEmpty);
  config->AddInt("redis_connections", 2, "Redis connections (commands are pipelined on them)",
                 1, 64);
  config->AddDuration("redis_timeout", absl::Seconds(2), "deadline of each Redis command",
                      absl::Milliseconds(1));
}

ServerOptions ServerOptionsFromConfig(const Config& config, const std::string& service_name) {
  ServerOptions o;
  o.service_name = service_name;
  o.listen_address = absl::StrCat(config.GetString("listen_host"), ":", config.GetInt("port"));
  o.metrics_port = static_cast<int>(config.GetInt("metrics_port"));
  o.drain_period = config.GetDuration("drain_period");
  o.shutdown_deadline = config.GetDuration("shutdown_deadline");
  if (absl::StatusOr<AccessLogPolicy> policy = ParseAccessLogPolicy(config.GetString("access_log"));
      policy.ok()) {
    o.access_log = *policy;
  }
  o.access_log.slow = config.GetDuration("access_log_slow");
  o.max_inflight_rpcs = static_cast<int>(config.GetInt("max_inflight_rpcs"));
  // Certificate files are read now: unreadable or mismatched ones exit with status 2.
  o.credentials = tls::ServerCredentials(tls::ServerTlsFromConfigOrExit(config));
  if (config.GetInt("health_port") > 0) {
    o.health_listen_address =
        absl::StrCat(config.GetString("listen_host"), ":", config.GetInt("health_port"));
  }
  return o;
}

redis::ClientOptions RedisOptionsFromConfig(const Config& config) {
  redis::ClientOptions o;
  o.address = config.GetString("redis_addr");
  o.password = config.GetString("redis_password");
  for (absl::string_view s :
       absl::StrSplit(config.GetString("redis_sentinels"), ',', absl::SkipWhitespace())) {
    o.sentinels.emplace_back(absl::StripAsciiWhitespace(s));
  }
  o.master_name = config.GetString("redis_master_name");
  o.connections = static_cast<int>(config.GetInt("redis_connections"));
  o.command_timeout = config.GetDuration("redis_timeout");
  return o;
}

void InitProcess(const Config& config, const std::string& service_name) {
  ApplyMutexSettings();
  log::SetService(service_name);
  log::Severity severity;
  if (log::ParseSeverity(config.GetString("log_level"), &severity)) {
    log::SetMinSeverity(severity);
  }
}

}  // namespace clerkship
