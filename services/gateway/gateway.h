#pragma once

// The HTTP/JSON gateway: for each request, CORS, the gateway's own endpoints (/healthz,
// /readyz, /metrics, /openapi.json), the route from the proto annotations, the bearer token,
// the rate limit, JSON → protobuf, a generic (untyped) gRPC call to the backend without a
// thread waiting on it, and protobuf → JSON or a google.rpc error body. Server-streaming RPCs
// are served as server-sent events.

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/tls/tls.h"
#include "common/util/clock.h"
#include "services/gateway/gateway_metrics.h"
#include "services/gateway/http_server.h"
#include "services/gateway/jwt.h"
#include "services/gateway/rate_limiter.h"
#include "services/gateway/route_table.h"

namespace grpc {
class ClientContext;
}

namespace clerkship::gateway {

struct GatewayOptions {
  HttpServerOptions http;
  // Backend name ("catalog") → gRPC address ("127.0.0.1:50051").
  std::map<std::string, std::string> backend_addresses;
  tls::ClientTlsConfig backend_tls;  // TLS to the backends; plaintext when not enabled()
  // Overload shedding: beyond these, requests are answered 503 with Retry-After at once
  // instead of queueing (memory and latency stay bounded). <= 0: no limit.
  int max_inflight_calls = 1000;  // unary backend calls in flight
  int max_streams = 1000;         // open server-sent event streams
  // Services whose GET routes need no token.
  std::set<std::string> anonymous_read_services = {"clerkship.catalog.v1.CatalogService"};
  JwtVerifierOptions jwt;
  double rate_limit_per_second = 50;  // per client; <= 0 disables
  double rate_limit_burst = 100;
  std::vector<std::string> cors_allowed_origins;  // "*" allows any origin
  absl::Duration default_timeout = absl::Seconds(10);
  absl::Duration max_timeout = absl::Seconds(60);
  bool json_emit_defaults = true;
  bool trust_forwarded_for = false;  // take the client IP from X-Forwarded-For (behind an ingress)
  bool access_log = true;
  absl::Duration readiness_timeout = absl::Seconds(1);
  absl::Duration drain_period = absl::Seconds(5);
  absl::Duration shutdown_deadline = absl::Seconds(10);
  const Clock* clock = Clock::Real();
};

class Gateway : public HttpHandler {
 public:
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(GatewayOptions options);
  ~Gateway() override;

  absl::Status Start();
  int port() const { return http_->port(); }
  // Readiness goes 503, the drain period passes, listening stops, streams are cancelled and
  // in-flight calls get until the shutdown deadline; then the I/O threads stop.
  void Shutdown();

  const RouteTable& routes() const { return *routes_; }
  const std::string& openapi_json() const { return openapi_; }

  void Handle(std::shared_ptr<HttpExchange> exchange) override;
  void OnRejected(int http_status) override;

  struct Backend;
  struct RequestInfo;

 private:
  explicit Gateway(GatewayOptions options);

  void HandleOwnEndpoint(const std::shared_ptr<HttpExchange>& exchange, RequestInfo& info,
                         absl::string_view path);
  void HandleReadiness(const std::shared_ptr<HttpExchange>& exchange, RequestInfo info);
  void CallUnary(std::shared_ptr<HttpExchange> exchange, RequestInfo info, const Route* route,
                 std::string request_bytes, absl::Duration timeout,
                 const std::optional<Principal>& principal);
  void CallStreaming(std::shared_ptr<HttpExchange> exchange, RequestInfo info, const Route* route,
                     std::string request_bytes, const std::optional<Principal>& principal);

 public:  // used by the call objects in gateway.cc
  void Reply(const std::shared_ptr<HttpExchange>& exchange, const RequestInfo& info, int status,
             std::string body, absl::string_view content_type = "application/json",
             const std::vector<std::pair<std::string, std::string>>& headers = {});
  void ReplyError(const std::shared_ptr<HttpExchange>& exchange, const RequestInfo& info,
                  int status, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& headers = {});
  void AddCommonHeaders(HttpResponse* response, const RequestInfo& info) const;
  void Record(const RequestInfo& info, int status);
  void AddMetadata(grpc::ClientContext* context, const RequestInfo& info,
                   const std::optional<Principal>& principal) const;
  void BeginCall(grpc::ClientContext* context, bool streaming);
  // True when another backend call of this kind would exceed max_inflight_calls/max_streams.
  bool Overloaded(bool streaming);
  void EndCall(grpc::ClientContext* context);
  GatewayMetrics& metrics() { return metrics_; }
  const GatewayOptions& options() const { return options_; }

 private:
  GatewayOptions options_;
  std::unique_ptr<RouteTable> routes_;
  std::string openapi_;
  std::unique_ptr<JwtVerifier> verifier_;
  std::unique_ptr<RateLimiter> limiter_;
  std::map<std::string, std::unique_ptr<Backend>> backends_;
  GatewayMetrics metrics_;
  std::unique_ptr<HttpServer> http_;

  absl::Mutex calls_mu_;
  std::set<grpc::ClientContext*> unary_calls_ ABSL_GUARDED_BY(calls_mu_);
  std::set<grpc::ClientContext*> stream_calls_ ABSL_GUARDED_BY(calls_mu_);
  std::atomic<bool> draining_{false};
  bool started_ = false;
  bool shut_down_ = false;
};

// Parses a request deadline: "X-Request-Timeout: 2.5" (seconds, or "250ms"/"3s" durations) or
// gRPC's "grpc-timeout: 250m" (units H M S m u n). Clamped to max.
absl::StatusOr<absl::Duration> ParseRequestTimeout(absl::string_view x_request_timeout,
                                                   absl::string_view grpc_timeout,
                                                   absl::Duration default_timeout,
                                                   absl::Duration max_timeout);

}  // namespace clerkship::gateway
