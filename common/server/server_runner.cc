#include "common/server/server_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <random>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "common/logging/log.h"

namespace clerkship {

struct RpcMetrics {
  prometheus::Family<prometheus::Counter>* handled;
  prometheus::Family<prometheus::Histogram>* latency;
};

namespace {

constexpr char kRequestIdHeader[] = "x-request-id";
constexpr char kLivenessServiceName[] = "liveness";

std::string NewRequestId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrFormat("%016x", rng());
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


class ObservabilityInterceptor : public grpc::experimental::Interceptor {
 public:
  ObservabilityInterceptor(grpc::experimental::ServerRpcInfo* info, RpcMetrics* metrics)
      : method_(info->method()), metrics_(metrics), start_(absl::Now()) {}

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
      Record(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void Record(const grpc::Status& status) {
    double seconds = absl::ToDoubleSeconds(absl::Now() - start_);
    const char* code = CodeName(status.error_code());
    metrics_->handled->Add({{"grpc_method", method_}, {"grpc_code", code}}).Increment();
    static const prometheus::Histogram::BucketBoundaries kBuckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    metrics_->latency->Add({{"grpc_method", method_}}, kBuckets).Observe(seconds);
    if (method_.rfind("/grpc.", 0) == 0) return;  // health checks and reflection: no access log
    log::Severity severity = log::Severity::kInfo;
    if (status.error_code() == grpc::StatusCode::INTERNAL ||
        status.error_code() == grpc::StatusCode::UNKNOWN ||
        status.error_code() == grpc::StatusCode::DATA_LOSS) {
      severity = log::Severity::kError;
    }
    log::Write(severity, "rpc",
               {{"method", method_},
                {"code", code},
                {"duration_ms", absl::StrFormat("%.3f", seconds * 1000)},
                {"request_id", request_id_}});
  }

  std::string method_;
  RpcMetrics* metrics_;
  absl::Time start_;
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

absl::Status ServerRunner::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  rpc_metrics_ = std::make_unique<RpcMetrics>(RpcMetrics{
      &prometheus::BuildCounter()
           .Name("grpc_server_handled_total")
           .Help("RPCs completed on the server, by method and status code.")
           .Register(*registry_),
      &prometheus::BuildHistogram()
           .Name("grpc_server_handling_seconds")
           .Help("Time from receiving an RPC to sending its status, by method.")
           .Register(*registry_)});
  RpcMetrics* metrics = rpc_metrics_.get();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen_address, grpc::InsecureServerCredentials(), &port_);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  for (grpc::Service* s : services_) builder.RegisterService(s);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(std::make_unique<ObservabilityInterceptorFactory>(metrics));
  builder.experimental().SetInterceptorCreators(std::move(creators));
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options_.listen_address, " (port in use?)"));
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

void AddServerFlags(Config* config, int default_port, int default_metrics_port) {
  config->AddInt("port", default_port, "gRPC listening port", 0, 65535);
  config->AddString("listen_host", "0.0.0.0", "address the gRPC server binds to", CheckNonEmpty);
  config->AddInt("metrics_port", default_metrics_port,
                 "port of the Prometheus /metrics endpoint (0 disables it)", 0, 65535);
  config->AddDuration("drain_period", absl::Seconds(5),
                      "after SIGTERM, time spent NOT_SERVING before the server stops");
  config->AddDuration("shutdown_deadline", absl::Seconds(10),
                      "time in-flight RPCs get to finish after the drain");
  config->AddString("log_level", "info", "debug, info, warning or error",
                    [](const std::string& v) {
                      return CheckOneOf(v, {"debug", "info", "warning", "error"});
                    });
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

void InitLogging(const Config& config, const std::string& service_name) {
  log::SetService(service_name);
  log::Severity severity;
  if (log::ParseSeverity(config.GetString("log_level"), &severity)) {
    log::SetMinSeverity(severity);
  }
}

}  // namespace clerkship
