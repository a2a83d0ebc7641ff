#include "services/gateway/gateway.h"

#include <grpcpp/alarm.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <boost/beast/http.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/auth/identity.h"
#include "common/logging/log.h"
#include "common/status/status.h"
#include "common/util/ids.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/gateway/fronted_services.h"
#include "services/gateway/http_errors.h"
#include "services/gateway/openapi.h"
#include "services/gateway/transcoder.h"

namespace clerkship::gateway {

namespace http = boost::beast::http;

struct Gateway::Backend {
  std::string name;
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

struct Gateway::RequestInfo {
  std::string method;
  std::string route = "unmatched";  // metrics label
  std::string request_id;
  std::string cors_origin;  // echoed in Access-Control-Allow-Origin when allowed
  absl::Time start;
};

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kDomain[] = "clerkship.gateway";
constexpr char kRequestIdHeader[] = "x-request-id";
// How long a stream waits for the backend's first sign of life before sending its headers
// anyway: a quick failure still becomes a proper HTTP error, a quiet stream still opens.
constexpr absl::Duration kStreamHeaderDelay = absl::Milliseconds(300);

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool ParseByteBuffer(const grpc::ByteBuffer& buffer, google::protobuf::Message* message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return message->ParseFromString(bytes);
}

std::string Header(const HttpRequest& request, absl::string_view name) {
  auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  if (it == request.end()) return "";
  return std::string(it->value());
}

absl::Duration Elapsed(absl::Time start) { return absl::Now() - start; }

}  // namespace

absl::StatusOr<absl::Duration> ParseRequestTimeout(absl::string_view x_request_timeout,
                                                   absl::string_view grpc_timeout,
                                                   absl::Duration default_timeout,
                                                   absl::Duration max_timeout) {
  absl::Duration timeout = default_timeout;
  auto bad = [](absl::string_view header, absl::string_view why) {
    return WithErrorInfo(InvalidFieldError(header, why), "INVALID_TIMEOUT", kDomain);
  };
  x_request_timeout = absl::StripAsciiWhitespace(x_request_timeout);
  grpc_timeout = absl::StripAsciiWhitespace(grpc_timeout);
  if (!x_request_timeout.empty()) {
    double seconds;
    if (absl::SimpleAtod(x_request_timeout, &seconds) && std::isfinite(seconds)) {
      timeout = absl::Seconds(seconds);
    } else if (!absl::ParseDuration(x_request_timeout, &timeout)) {
      return bad("X-Request-Timeout", "expected seconds (\"2.5\") or a duration (\"250ms\")");
    }
  } else if (!grpc_timeout.empty()) {
    // grpc-timeout: at most 8 digits and a unit.
    if (grpc_timeout.size() < 2 || grpc_timeout.size() > 9) {
      return bad("grpc-timeout", "expected digits and a unit, e.g. \"250m\"");
    }
    int64_t value;
    if (!absl::SimpleAtoi(grpc_timeout.substr(0, grpc_timeout.size() - 1), &value) || value < 0) {
      return bad("grpc-timeout", "expected digits and a unit, e.g. \"250m\"");
    }
    switch (grpc_timeout.back()) {
      case 'H':
        timeout = absl::Hours(value);
        break;
      case 'M':
        timeout = absl::Minutes(value);
        break;
      case 'S':
        timeout = absl::Seconds(value);
        break;
      case 'm':
        timeout = absl::Milliseconds(value);
        break;
      case 'u':
        timeout = absl::Microseconds(value);
        break;
      case 'n':
        timeout = absl::Nanoseconds(value);
        break;
      default:
        return bad("grpc-timeout", "unknown unit; one of H M S m u n");
    }
  }
  if (timeout <= absl::ZeroDuration()) {
    return bad(x_request_timeout.empty() ? "grpc-timeout" : "X-Request-Timeout",
               "must be positive");
  }
  return std::min(timeout, max_timeout);
}

// --- construction -------------------------------------------------------------------------

Gateway::Gateway(GatewayOptions options) : options_(std::move(options)) {}

Gateway::~Gateway() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(GatewayOptions options) {
  std::unique_ptr<Gateway> gw(new Gateway(std::move(options)));
  absl::StatusOr<std::unique_ptr<RouteTable>> routes =
      RouteTable::Build(FrontedServices(gw->options_.anonymous_read_services));
  if (!routes.ok()) return routes.status();
  gw->routes_ = *std::move(routes);
  gw->openapi_ = BuildOpenApi(*gw->routes_, OpenApiOptions());

  absl::StatusOr<std::unique_ptr<JwtVerifier>> verifier =
      JwtVerifier::Create(gw->options_.jwt, gw->options_.clock);
  if (!verifier.ok()) return verifier.status();
  gw->verifier_ = *std::move(verifier);
  gw->limiter_ = std::make_unique<RateLimiter>(gw->options_.rate_limit_per_second,
                                               gw->options_.rate_limit_burst, gw->options_.clock);

  for (const auto& route : gw->routes_->routes()) {
    if (gw->backends_.count(route->backend) > 0) continue;
    auto it = gw->options_.backend_addresses.find(route->backend);
    if (it == gw->options_.backend_addresses.end() || it->second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("no address for the ", route->backend,
                                                     " backend (--", route->backend, "_addr)"));
    }
    auto backend = std::make_unique<Backend>();
    backend->name = route->backend;
    backend->address = it->second;
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
    args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 16 << 20);
    // Spreads calls over every address a (headless) service name resolves to.
    args.SetLoadBalancingPolicyName("round_robin");
    backend->channel = tls::CreateChannel(backend->address, gw->options_.backend_tls, args);
    backend->stub = std::make_unique<grpc::GenericStub>(backend->channel);
    backend->health = grpc::health::v1::Health::NewStub(backend->channel);
    gw->backends_[backend->name] = std::move(backend);
  }
  gw->http_ = std::make_unique<HttpServer>(gw->options_.http, gw.get());
  return gw;
}

absl::Status Gateway::Start() {
  if (absl::Status s = http_->Start(); !s.ok()) return s;
  started_ = true;
  log::Info("gateway serving", {{"port", absl::StrCat(http_->port())},
                                {"routes", absl::StrCat(routes_->routes().size())}});
  return absl::OkStatus();
}

void Gateway::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (!started_) return;
  draining_ = true;
  log::Info("gateway draining", {{"drain_period", absl::FormatDuration(options_.drain_period)}});
  absl::SleepFor(options_.drain_period);
  http_->StopAccepting();
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(calls_mu_) {
    return unary_calls_.empty() && stream_calls_.empty();
  };
  {
    absl::MutexLock lock(&calls_mu_);
    for (grpc::ClientContext* c : stream_calls_) c->TryCancel();
    calls_mu_.AwaitWithTimeout(absl::Condition(&idle), options_.shutdown_deadline);
    for (grpc::ClientContext* c : unary_calls_) c->TryCancel();
    calls_mu_.Await(absl::Condition(&idle));
  }
  http_->Stop();
  log::Info("gateway stopped");
}

void Gateway::BeginCall(grpc::ClientContext* context, bool streaming) {
  absl::MutexLock lock(&calls_mu_);
  (streaming ? stream_calls_ : unary_calls_).insert(context);
  if (draining_ && streaming) context->TryCancel();
}

bool Gateway::Overloaded(bool streaming) {
  absl::MutexLock lock(&calls_mu_);
  if (streaming) {
    return options_.max_streams > 0 &&
           stream_calls_.size() >= static_cast<size_t>(options_.max_streams);
  }
  return options_.max_inflight_calls > 0 &&
         unary_calls_.size() >= static_cast<size_t>(options_.max_inflight_calls);
}

void Gateway::EndCall(grpc::ClientContext* context) {
  absl::MutexLock lock(&calls_mu_);
  unary_calls_.erase(context);
  stream_calls_.erase(context);
}

// --- responses ----------------------------------------------------------------------------

void Gateway::AddCommonHeaders(HttpResponse* response, const RequestInfo& info) const {
  response->set(http::field::server, "clerkship-gateway");
  if (!info.request_id.empty()) response->set(kRequestIdHeader, info.request_id);
  if (!info.cors_origin.empty()) {
    response->set(http::field::access_control_allow_origin, info.cors_origin);
    response->set(http::field::vary, "Origin");
    response->set(http::field::access_control_expose_headers, "Retry-After, X-Request-Id");
  }
}

void Gateway::Record(const RequestInfo& info, int status) {
  absl::Duration latency = Elapsed(info.start);
  metrics_.RecordRequest(info.route, status, latency);
  if (options_.access_log) {
    log::Info("http request", {{"method", info.method},
                               {"route", info.route},
                               {"status", absl::StrCat(status)},
                               {"duration_ms", absl::StrCat(absl::ToDoubleMilliseconds(latency))},
                               {"request_id", info.request_id}});
  }
}

void Gateway::Reply(const std::shared_ptr<HttpExchange>& exchange, const RequestInfo& info,
                    int status, std::string body, absl::string_view content_type,
                    const Headers& headers) {
  HttpResponse response(static_cast<http::status>(status), 11);
  AddCommonHeaders(&response, info);
  if (!content_type.empty()) {
    response.set(http::field::content_type,
                 boost::beast::string_view(content_type.data(), content_type.size()));
  }
  response.set(http::field::cache_control, "no-store");
  for (const auto& [name, value] : headers) response.set(name, value);
  response.body() = std::move(body);
  Record(info, status);
  exchange->Respond(std::move(response));
}

void Gateway::ReplyError(const std::shared_ptr<HttpExchange>& exchange, const RequestInfo& info,
                         int status, const std::string& body, const Headers& headers) {
  Reply(exchange, info, status, body, "application/json", headers);
}

void Gateway::OnRejected(int http_status) {
  metrics_.RecordRequest("unmatched", http_status, absl::ZeroDuration());
}

void Gateway::AddMetadata(grpc::ClientContext* context, const RequestInfo& info,
                          const std::optional<Principal>& principal) const {
  // The identity comes from the verified token only; HTTP headers are never copied into
  // metadata, so a client cannot send its own x-clerkship-* values.
  if (principal.has_value()) {
    context->AddMetadata(auth::kPrincipalHeader, principal->subject);
    context->AddMetadata(auth::kRoleHeader, principal->role);
    if (!principal->site.empty()) context->AddMetadata(auth::kSiteHeader, principal->site);
  }
  context->AddMetadata(kRequestIdHeader, info.request_id);
}

// --- the request pipeline -----------------------------------------------------------------

void Gateway::Handle(std::shared_ptr<HttpExchange> exchange) {
  const HttpRequest& request = exchange->request();
  RequestInfo info;
  info.start = absl::Now();
  info.method = std::string(request.method_string());
  info.request_id = Header(request, kRequestIdHeader);
  if (!IsValidRequestId(info.request_id)) info.request_id = NewResourceId();

  std::string origin = Header(request, "origin");
  if (!origin.empty()) {
    for (const std::string& allowed : options_.cors_allowed_origins) {
      if (allowed == "*" || allowed == origin) info.cors_origin = allowed == "*" ? "*" : origin;
    }
  }

  absl::string_view target(request.target().data(), request.target().size());
  absl::string_view path = target.substr(0, target.find_first_of("?#"));
  absl::string_view query;
  if (size_t q = target.find('?'); q != absl::string_view::npos) {
    query = target.substr(q + 1);
    query = query.substr(0, query.find('#'));
  }
  if (path.empty() || path[0] != '/') {
    ReplyError(exchange, info, 400,
               PlainError(400, absl::StatusCode::kInvalidArgument,
                          "the request target must be a path starting with '/'", "MALFORMED_PATH")
                   .body);
    return;
  }

  const bool own_endpoint =
      path == "/healthz" || path == "/readyz" || path == "/metrics" || path == "/openapi.json";

  // CORS preflight and OPTIONS.
  if (request.method() == http::verb::options) {
    std::vector<std::string> methods =
        own_endpoint ? std::vector<std::string>{"GET"} : routes_->MethodsFor(path);
    if (methods.empty()) {
      ReplyError(exchange, info, 404,
                 PlainError(404, absl::StatusCode::kNotFound, "no such path", "NO_ROUTE").body);
      return;
    }
    std::string allow = absl::StrJoin(methods, ", ");
    Headers headers = {{"Allow", absl::StrCat(allow, ", OPTIONS")}};
    bool preflight = !Header(request, "access-control-request-method").empty();
    if (preflight && !origin.empty() && info.cors_origin.empty()) {
      ReplyError(exchange, info, 403,
                 PlainError(403, absl::StatusCode::kPermissionDenied, "origin not allowed",
                            "CORS_ORIGIN_NOT_ALLOWED")
                     .body,
                 headers);
      return;
    }
    if (preflight && !info.cors_origin.empty()) {
      headers.push_back({"Access-Control-Allow-Methods", allow});
      headers.push_back({"Access-Control-Allow-Headers",
                         "Authorization, Content-Type, X-Request-Id, X-Request-Timeout"});
      headers.push_back({"Access-Control-Max-Age", "600"});
    }
    Reply(exchange, info, 204, "", "", headers);
    return;
  }

  if (own_endpoint) {
    info.route = std::string(path);
    HandleOwnEndpoint(exchange, info, path);
    return;
  }

  RouteMatch match = routes_->Match(info.method, path);
  switch (match.outcome) {
    case RouteMatch::Outcome::kBadPath:
      ReplyError(exchange, info, 400,
                 PlainError(400, absl::StatusCode::kInvalidArgument,
                            "malformed percent-encoding in the path", "MALFORMED_PATH")
                     .body);
      return;
    case RouteMatch::Outcome::kNotFound:
      ReplyError(exchange, info, 404,
                 PlainError(404, absl::StatusCode::kNotFound,
                            ToValidUtf8(absl::StrCat("no route for ", info.method, " ", path)), "NO_ROUTE")
                     .body);
      return;
    case RouteMatch::Outcome::kMethodNotAllowed: {
      std::string allow = absl::StrJoin(match.allowed_methods, ", ");
      ReplyError(exchange, info, 405,
                 PlainError(405, absl::StatusCode::kUnimplemented,
                            absl::StrCat(info.method, " is not allowed here; allowed: ", allow),
                            "METHOD_NOT_ALLOWED")
                     .body,
                 {{"Allow", allow}});
      return;
    }
    case RouteMatch::Outcome::kFound:
      break;
  }
  const Route* route = match.route;
  info.route = route->label;

  // Shed load before spending anything on the request: a call that would wait behind too
  // many others gets a quick 503 (clients retry after the hint) instead of queueing.
  if (Overloaded(route->server_streaming)) {
    ReplyError(exchange, info, 503,
               PlainError(503, absl::StatusCode::kUnavailable,
                          "the gateway is overloaded; retry later", "OVERLOADED")
                   .body,
               {{"Retry-After", "1"}});
    return;
  }

  // Authentication. A token that is present must be valid, even on public routes.
  std::optional<Principal> principal;
  absl::Status auth_error;
  std::string authorization = Header(request, "authorization");
  if (!authorization.empty()) {
    absl::string_view value = absl::StripAsciiWhitespace(authorization);
    if (value.size() > 7 && absl::StartsWithIgnoreCase(value, "bearer ")) {
      absl::StatusOr<Principal> verified =
          verifier_->Verify(absl::StripAsciiWhitespace(value.substr(7)));
      if (verified.ok()) {
        principal = *std::move(verified);
      } else {
        auth_error = verified.status();
      }
    } else {
      auth_error = ErrorWithInfo(absl::StatusCode::kUnauthenticated,
                                 "the Authorization header must be \"Bearer <token>\"",
                                 "TOKEN_MALFORMED", kDomain);
    }
  }

  // Rate limit per signed-in subject, else per client address.
  std::string client_ip = exchange->remote_ip();
  if (options_.trust_forwarded_for) {
    std::string forwarded = Header(request, "x-forwarded-for");
    if (!forwarded.empty()) {
      client_ip = std::string(absl::StripAsciiWhitespace(
          std::vector<absl::string_view>(absl::StrSplit(forwarded, ','))[0]));
    }
  }
  std::string limit_key = principal ? "sub:" + principal->subject : "ip:" + client_ip;
  if (absl::Duration wait = limiter_->Acquire(limit_key); wait > absl::ZeroDuration()) {
    int64_t seconds =
        std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(wait, absl::Seconds(1))));
    ReplyError(exchange, info, 429,
               PlainError(429, absl::StatusCode::kResourceExhausted,
                          "too many requests; retry later", "RATE_LIMITED")
                   .body,
               {{"Retry-After", absl::StrCat(seconds)}});
    return;
  }

  if (!auth_error.ok()) {
    ReplyError(exchange, info, 401, ErrorFromStatus(auth_error).body,
               {{"WWW-Authenticate", "Bearer error=\"invalid_token\""}});
    return;
  }
  if (!principal && !route->anonymous) {
    ReplyError(exchange, info, 401,
               ErrorFromStatus(ErrorWithInfo(absl::StatusCode::kUnauthenticated,
                                             "sign-in required: send Authorization: Bearer <token>",
                                             "UNAUTHENTICATED", kDomain))
                   .body,
               {{"WWW-Authenticate", "Bearer"}});
    return;
  }

  absl::StatusOr<absl::Duration> timeout =
      ParseRequestTimeout(Header(request, "x-request-timeout"), Header(request, "grpc-timeout"),
                          options_.default_timeout, options_.max_timeout);
  if (!timeout.ok()) {
    HttpError e = ErrorFromStatus(timeout.status());
    ReplyError(exchange, info, e.http_status, e.body);
    return;
  }

  std::unique_ptr<google::protobuf::Message> message(route->request_prototype->New());
  absl::Status built = BuildRequest(*route, match.bindings, query, request.body(), message.get());
  if (!built.ok()) {
    HttpError e = ErrorFromStatus(built);
    ReplyError(exchange, info, e.http_status, e.body);
    return;
  }
  std::string bytes;
  if (!message->SerializeToString(&bytes)) {
    HttpError e = PlainError(400, absl::StatusCode::kInvalidArgument,
                             "the request cannot be encoded", "UNENCODABLE_REQUEST");
    ReplyError(exchange, info, e.http_status, e.body);
    return;
  }
  if (route->server_streaming) {
    CallStreaming(std::move(exchange), std::move(info), route, std::move(bytes), principal);
  } else {
    CallUnary(std::move(exchange), std::move(info), route, std::move(bytes), *timeout, principal);
  }
}

// --- unary calls --------------------------------------------------------------------------

namespace {

struct UnaryCallState {
  Gateway* gateway;
  std::shared_ptr<HttpExchange> exchange;
  Gateway::RequestInfo info;
  const Route* route;
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
};

void FinishUnary(const std::shared_ptr<UnaryCallState>& call, const grpc::Status& status) {
  Gateway* gw = call->gateway;
  if (!status.ok()) {
    HttpError e = ErrorFromGrpc(status);
    if (e.http_status >= 500) {
      log::Warning(
          "backend call failed",
          {{"rpc", call->route->rpc_path},
           {"backend", call->route->backend},
           {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))},
           {"error", status.error_message()},
           {"request_id", call->info.request_id}});
    }
    gw->ReplyError(call->exchange, call->info, e.http_status, e.body);
    return;
  }
  std::unique_ptr<google::protobuf::Message> message(call->route->response_prototype->New());
  if (!ParseByteBuffer(call->response, message.get())) {
    log::Error("backend response does not parse", {{"rpc", call->route->rpc_path}});
    gw->ReplyError(
        call->exchange, call->info, 500,
        PlainError(500, absl::StatusCode::kInternal, "internal error", "BAD_BACKEND_RESPONSE")
            .body);
    return;
  }
  absl::StatusOr<std::string> json =
      ResponseToJson(*call->route, *message, gw->options().json_emit_defaults);
  if (!json.ok()) {
    gw->ReplyError(
        call->exchange, call->info, 500,
        PlainError(500, absl::StatusCode::kInternal, "internal error", "BAD_BACKEND_RESPONSE")
            .body);
    return;
  }
  gw->Reply(call->exchange, call->info, 200, *std::move(json));
}

}  // namespace

void Gateway::CallUnary(std::shared_ptr<HttpExchange> exchange, RequestInfo info,
                        const Route* route, std::string request_bytes, absl::Duration timeout,
                        const std::optional<Principal>& principal) {
  auto call = std::make_shared<UnaryCallState>();
  call->gateway = this;
  call->exchange = std::move(exchange);
  call->info = std::move(info);
  call->route = route;
  call->request = ToByteBuffer(request_bytes);
  call->context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
  AddMetadata(&call->context, call->info, principal);
  BeginCall(&call->context, /*streaming=*/false);
  Backend& backend = *backends_.at(route->backend);
  backend.stub->UnaryCall(&call->context, route->rpc_path, grpc::StubOptions(), &call->request,
                          &call->response, [call](grpc::Status status) {
                            FinishUnary(call, status);
                            // Nothing outside the I/O threads may hold the connection once
                            // the call is counted out: shutdown stops them next.
                            call->exchange.reset();
                            call->gateway->EndCall(&call->context);
                          });
}

// --- server-sent events -------------------------------------------------------------------

namespace {

// Bridges a server-streaming RPC to an event stream. Each message is one event:
//   event: message
//   data: {...json...}
// A backend error after the stream opened is an `event: error` with the error body; then the
// stream ends. The client going away cancels the RPC.
class SseCall : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                public std::enable_shared_from_this<SseCall> {
 public:
  SseCall(Gateway* gateway, std::shared_ptr<HttpExchange> exchange, Gateway::RequestInfo info,
          const Route* route)
      : gateway_(gateway), exchange_(std::move(exchange)), info_(std::move(info)), route_(route) {}

  grpc::ClientContext* context() { return &context_; }

  void Start(grpc::GenericStub* stub, std::string request_bytes) {
    self_ = shared_from_this();
    request_ = ToByteBuffer(request_bytes);
    gateway_->BeginCall(&context_, /*streaming=*/true);
    stub->PrepareBidiStreamingCall(&context_, route_->rpc_path, grpc::StubOptions(), this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
    std::weak_ptr<SseCall> weak = self_;
    header_alarm_.Set(
        std::chrono::system_clock::now() + absl::ToChronoNanoseconds(kStreamHeaderDelay),
        [weak](bool fired) {
          if (auto self = weak.lock(); self && fired) self->OpenStream();
        });
  }

  // The stream is not opened on the backend's initial metadata: a C++ server sends it along
  // with the status of a call it refuses at once (PERMISSION_DENIED, INVALID_ARGUMENT), and
  // that refusal must reach the client as its HTTP status (403, 400), not as an error event
  // after a 200. The first message, the end of the call or the header alarm opens it.
  void OnReadInitialMetadataDone(bool) override {}

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    std::unique_ptr<google::protobuf::Message> message(route_->response_prototype->New());
    std::string event;
    if (!ParseByteBuffer(response_, message.get())) {
      event =
          "event: error\ndata: {\"error\":{\"code\":500,\"status\":\"INTERNAL\","
          "\"message\":\"internal error\",\"details\":[]}}\n\n";
    } else {
      absl::StatusOr<std::string> json =
          ResponseToJson(*route_, *message, gateway_->options().json_emit_defaults);
      event = json.ok() ? absl::StrCat("event: message\ndata: ", *json, "\n\n") : "";
    }
    OpenStream();
    // One event in flight: the next read starts once this one is written, so a slow client
    // slows the stream down instead of growing a queue here. The hold keeps OnDone (after
    // which StartRead is not allowed) from running before the write has finished.
    AddHold();
    absl::MutexLock lock(&mu_);
    exchange_->StreamWrite(std::move(event), [self = shared_from_this()](bool written) {
      if (written) {
        self->StartRead(&self->response_);
      } else {
        self->context_.TryCancel();
      }
      self->RemoveHold();
    });
  }

  void OnDone(const grpc::Status& status) override {
    header_alarm_.Cancel();
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      if (!opened_) {
        if (status.ok()) {
          OpenLocked();
          exchange_->EndStream();
        } else {
          HttpError e = ErrorFromGrpc(status);
          gateway_->ReplyError(exchange_, info_, e.http_status, e.body);
        }
      } else {
        if (!status.ok() && !client_gone_.load()) {
          HttpError e = ErrorFromGrpc(status);
          exchange_->StreamWrite(absl::StrCat("event: error\ndata: ", e.body, "\n\n"), nullptr);
        }
        exchange_->EndStream();
        gateway_->metrics().streams().Decrement();
      }
      // Nothing outside the I/O threads may hold the connection once the call is counted out.
      exchange_.reset();
    }
    gateway_->EndCall(&context_);
    self_.reset();  // may be the last reference
  }

 private:
  void OpenStream() {
    absl::MutexLock lock(&mu_);
    if (opened_ || done_) return;
    OpenLocked();
    gateway_->metrics().streams().Increment();
  }

  // Under mu_, so that the headers are queued on the connection before any event or the end
  // of the stream, whichever thread gets here first.
  void OpenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    opened_ = true;
    HttpResponse head(http::status::ok, 11);
    gateway_->AddCommonHeaders(&head, info_);
    head.set(http::field::content_type, "text/event-stream; charset=utf-8");
    head.set(http::field::cache_control, "no-store");
    head.set("X-Accel-Buffering", "no");  // keeps nginx-style proxies from buffering events
    gateway_->Record(info_, 200);
    std::weak_ptr<SseCall> weak = shared_from_this();
    exchange_->BeginStream(std::move(head), ": keep-alive\n\n", [weak] {
      if (auto self = weak.lock()) {
        self->client_gone_ = true;
        self->context_.TryCancel();
      }
    });
  }

  Gateway* gateway_;
  std::shared_ptr<HttpExchange> exchange_;
  Gateway::RequestInfo info_;
  const Route* route_;
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  grpc::Alarm header_alarm_;
  std::shared_ptr<SseCall> self_;
  std::atomic<bool> client_gone_{false};
  absl::Mutex mu_;
  bool opened_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

void Gateway::CallStreaming(std::shared_ptr<HttpExchange> exchange, RequestInfo info,
                            const Route* route, std::string request_bytes,
                            const std::optional<Principal>& principal) {
  auto call = std::make_shared<SseCall>(this, std::move(exchange), info, route);
  AddMetadata(call->context(), info, principal);
  call->Start(backends_.at(route->backend)->stub.get(), std::move(request_bytes));
}

// --- the gateway's own endpoints ------------------------------------------------------------

void Gateway::HandleOwnEndpoint(const std::shared_ptr<HttpExchange>& exchange, RequestInfo& info,
                                absl::string_view path) {
  const HttpRequest& request = exchange->request();
  if (request.method() != http::verb::get) {
    ReplyError(exchange, info, 405,
               PlainError(405, absl::StatusCode::kUnimplemented,
                          absl::StrCat(info.method, " is not allowed here; allowed: GET"),
                          "METHOD_NOT_ALLOWED")
                   .body,
               {{"Allow", "GET"}});
    return;
  }
  if (path == "/healthz") {
    Reply(exchange, info, 200, R"({"status":"SERVING"})");
  } else if (path == "/readyz") {
    HandleReadiness(exchange, info);
  } else if (path == "/metrics") {
    metrics_.connections().Set(http_->open_connections());
    Reply(exchange, info, 200, metrics_.Render(), "text/plain; version=0.0.4; charset=utf-8");
  } else {
    Reply(exchange, info, 200, openapi_, "application/json",
          {{"Cache-Control", "public, max-age=300"}});
  }
}

void Gateway::HandleReadiness(const std::shared_ptr<HttpExchange>& exchange, RequestInfo info) {
  if (draining_) {
    Reply(exchange, info, 503, R"({"status":"DRAINING","backends":{}})");
    return;
  }
  struct Check {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
  };
  struct Readiness {
    Gateway* gateway;
    std::shared_ptr<HttpExchange> exchange;
    RequestInfo info;
    absl::Mutex mu;
    size_t pending ABSL_GUARDED_BY(mu) = 0;
    std::map<std::string, std::string> states ABSL_GUARDED_BY(mu);
    std::vector<std::unique_ptr<Check>> checks;
  };
  auto readiness = std::make_shared<Readiness>();
  readiness->gateway = this;
  readiness->exchange = exchange;
  readiness->info = std::move(info);
  readiness->pending = backends_.size();
  if (backends_.empty()) {
    Reply(exchange, readiness->info, 200, R"({"status":"SERVING","backends":{}})");
    return;
  }
  for (auto& [name, backend] : backends_) {
    readiness->checks.push_back(std::make_unique<Check>());
  }
  size_t i = 0;
  for (auto& [name, backend] : backends_) {
    Check* check = readiness->checks[i++].get();
    check->context.set_deadline(std::chrono::system_clock::now() +
                                absl::ToChronoNanoseconds(options_.readiness_timeout));
    BeginCall(&check->context, false);
    backend->health->async()->Check(
        &check->context, &check->request, &check->response,
        [readiness, check, backend_name = name](grpc::Status status) {
          std::string state;
          if (!status.ok()) {
            state = "UNREACHABLE";
          } else {
            state =
                grpc::health::v1::HealthCheckResponse::ServingStatus_Name(check->response.status());
          }
          bool last;
          {
            absl::MutexLock lock(&readiness->mu);
            readiness->states[backend_name] = state;
            last = --readiness->pending == 0;
          }
          if (!last) {
            readiness->gateway->EndCall(&check->context);
            return;
          }
          nlohmann::ordered_json body;
          bool ready = true;
          nlohmann::ordered_json states = nlohmann::ordered_json::object();
          {
            absl::MutexLock lock(&readiness->mu);
            for (const auto& [n, s] : readiness->states) {
              states[n] = s;
              ready = ready && s == "SERVING";
            }
          }
          body["status"] = ready ? "SERVING" : "NOT_SERVING";
          body["backends"] = std::move(states);
          readiness->gateway->Reply(readiness->exchange, readiness->info, ready ? 200 : 503,
                                    body.dump());
          readiness->exchange.reset();
          readiness->gateway->EndCall(&check->context);
        });
  }
}

}  // namespace clerkship::gateway
