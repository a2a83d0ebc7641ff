#pragma once

// The one place where a service's gRPC server is put together: callback-API services,
// gRPC health (NOT_SERVING while Redis is unreachable or while draining; the health name
// "liveness" stays SERVING while the process answers, for liveness probes), reflection,
// keepalive, interceptors for request ids, JSON access logs and Prometheus metrics, and
// a graceful stop on SIGTERM/SIGINT: health goes NOT_SERVING, the server keeps answering
// for the drain period so load balancers can notice, then Shutdown(deadline).

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/config/config.h"
#include "common/redis/redis_client.h"

namespace prometheus {
class Exposer;
}

namespace clerkship {

struct RpcMetrics;
class AdmissionControl;
namespace tls {
class PlaintextHealthListener;
}

// Which finished RPCs get an access-log line (--access_log). Failed calls (any code but
// OK) and calls slower than `slow` are logged in every mode; health checks and
// reflection never are.
struct AccessLogPolicy {
  enum class Mode { kAll, kErrors, kSampled };
  Mode mode = Mode::kErrors;
  int64_t sample_every = 1;  // kSampled: also one successful call in this many
  absl::Duration slow = absl::Milliseconds(500);
};
// "all", "errors" or "sampled:N" (N >= 1).
absl::StatusOr<AccessLogPolicy> ParseAccessLogPolicy(absl::string_view text);

struct ServerOptions {
  std::string service_name;                  // "catalog"; used in logs and metrics
  std::string listen_address = "0.0.0.0:0";  // port 0 picks a free port (tests)
  int metrics_port = 0;                      // 0 disables the /metrics endpoint
  absl::Duration drain_period = absl::Seconds(5);
  absl::Duration shutdown_deadline = absl::Seconds(10);
  AccessLogPolicy access_log;
  // Unary RPCs of the registered services handled at once; beyond it new calls get
  // RESOURCE_EXHAUSTED without reaching the service (health and reflection are exempt).
  // 0: no limit.
  int max_inflight_rpcs = 1000;
  int max_message_bytes = 4 * 1024 * 1024;
  // Credentials of the listening port (common/tls); null: plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // "host:port" of a plaintext listener serving only grpc.health.v1 Check, for probes that
  // cannot speak TLS (common/tls/health_listener.h); empty: none.
  std::string health_listen_address;
};

class ServerRunner {
 public:
  explicit ServerRunner(ServerOptions options);
  ~ServerRunner();

  // Registers a service; its full name ("clerkship.catalog.v1.CatalogService", from the
  // generated Service::service_full_name()) gets a health status of its own.
  void AddService(grpc::Service* service, const std::string& full_name);
  // Health follows this client: NOT_SERVING while it has no working connection.
  void TrackRedisHealth(redis::Client* client);

  absl::Status Start();
  int port() const { return port_; }
  std::string address() const;
  grpc::Server* server() { return server_.get(); }
  prometheus::Registry& metrics() { return *registry_; }
  // Unary RPCs of the registered services in flight now (counted for --max_inflight_rpcs).
  int64_t inflight_rpcs() const;

  void SetServing(bool serving);
  // NOT_SERVING, wait for the drain period, then stop accepting and finish in-flight calls.
  void Shutdown();
  // Blocks until SIGTERM or SIGINT, then Shutdown().
  void RunUntilSignalled();

 private:
  void ApplyHealth();

  ServerOptions options_;
  std::vector<grpc::Service*> services_;
  std::vector<std::string> service_names_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<RpcMetrics> rpc_metrics_;
  std::unique_ptr<AdmissionControl> admission_;
  // What is registered with gRPC in place of each service: the same methods, behind the
  // in-flight limit.
  std::vector<std::unique_ptr<grpc::Service>> admitting_services_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<tls::PlaintextHealthListener> health_listener_;  // after server_: goes first
  int port_ = 0;
  redis::Client* redis_ = nullptr;

  absl::Mutex mu_;
  bool want_serving_ ABSL_GUARDED_BY(mu_) = true;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

// Flags every service shares: --port, --metrics_port, --drain_period, --log_level,
// --access_log, --max_inflight_rpcs and the Redis connection settings.
void AddServerFlags(Config* config, int default_port, int default_metrics_port);
void AddRedisFlags(Config* config);
ServerOptions ServerOptionsFromConfig(const Config& config, const std::string& service_name);
redis::ClientOptions RedisOptionsFromConfig(const Config& config);
// Process-wide settings every service starts with: logging from --log_level, and the Mutex
// settings of mutex_settings.h.
void InitProcess(const Config& config, const std::string& service_name);

}  // namespace clerkship
