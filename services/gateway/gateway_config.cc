#include "services/gateway/gateway_config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/tls/tls.h"
#include "services/gateway/fronted_services.h"

namespace clerkship::gateway {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void AddJwtFlags(Config* config) {
  config->AddString("jwt_algorithm", "HS256", "token signature algorithm: HS256, RS256 or ES256",
                    [](const std::string& v) {
                      return CheckOneOf(v, {"HS256", "RS256", "ES256"});
                    });
  config->AddString("jwt_secret", "", "HS256 shared secret (at least 32 bytes)");
  config->AddString("jwt_public_key_file", "", "RS256/ES256: PEM public key file");
  config->AddString("jwt_issuer", "", "required iss claim (empty: not checked)");
  config->AddString("jwt_audience", "", "required aud claim (empty: not checked)");
}

void AddGatewayFlags(Config* config) {
  config->AddInt("port", 8080, "HTTP listening port", 0, 65535);
  config->AddString("listen_host", "0.0.0.0", "address the HTTP server binds to", CheckNonEmpty);
  config->AddInt("http_threads", 2, "HTTP I/O threads", 1, 64);
  config->AddInt("max_body_bytes", 1 << 20, "largest request body accepted (413 above)", 1,
                 64 << 20);
  config->AddInt("max_header_bytes", 16 << 10, "largest request head accepted (431 above)", 1024,
                 1 << 20);
  config->AddDuration("idle_timeout", absl::Seconds(60),
                      "close a keep-alive connection after this long without a request",
                      absl::Milliseconds(10));
  config->AddDuration("read_timeout", absl::Seconds(15), "time allowed to receive a whole request",
                      absl::Milliseconds(10));
  config->AddDuration("write_timeout", absl::Seconds(15),
                      "time allowed to send a response (or one event)", absl::Milliseconds(10));
  config->AddInt("max_connections", 10000,
                 "open connections served at once; more are answered 503 with Retry-After", 1,
                 1000000);
  config->AddInt("max_inflight_calls", 1000,
                 "backend calls in flight at once; more requests are answered 503 with "
                 "Retry-After (0: no limit)",
                 0, 1000000);
  config->AddInt("max_streams", 1000,
                 "open server-sent event streams; more are answered 503 with Retry-After (0: no "
                 "limit)",
                 0, 1000000);
  // HTTPS on the listening port, and TLS to the backends.
  tls::AddServerTlsFlags(config, /*client_auth=*/false);
  tls::AddClientTlsFlags(config);
  config->AddDuration("sse_heartbeat", absl::Seconds(15),
                      "comment line sent on a quiet event stream this often",
                      absl::Milliseconds(10));
  for (const BackendDescriptor& backend : KnownBackends()) {
    config->AddString(absl::StrCat(backend.name, "_addr"), backend.default_addr,
                      absl::StrCat("gRPC address of the ", backend.name, " service"),
                      CheckHostPort);
  }
  config->AddString("anonymous_read_services", "clerkship.catalog.v1.CatalogService",
                    "comma-separated gRPC services whose GET routes need no token");
  AddJwtFlags(config);
  config->AddDuration("jwt_leeway", absl::Seconds(30), "clock skew allowed for exp and nbf");
  config->AddInt("jwt_cache_size", 10000, "verified tokens remembered (0: no cache)", 0, 10000000);
  config->AddInt("rate_limit_rps", 50, "requests per second per client (0: no limit)", 0, 1000000);
  config->AddInt("rate_limit_burst", 100, "requests a client may burst above the rate", 1,
                 10000000);
  config->AddString(
      "cors_allowed_origins", "",
      "comma-separated origins allowed by CORS, e.g. https://app.example.org; * = any");
  config->AddDuration("request_timeout", absl::Seconds(10),
                      "deadline of a backend call unless the request sets X-Request-Timeout",
                      absl::Milliseconds(1));
  config->AddDuration("max_request_timeout", absl::Seconds(60),
                      "upper bound of a deadline a request may ask for", absl::Milliseconds(1));
  config->AddBool("json_emit_defaults", true,
                  "print zero-valued fields (0, false, \"\", []) in JSON responses");
  config->AddBool("trust_forwarded_for", false,
                  "rate-limit by the first X-Forwarded-For address (only behind a trusted proxy)");
  config->AddBool("access_log", true, "log one line per request");
  config->AddDuration("readiness_timeout", absl::Seconds(1),
                      "deadline of each backend health check behind /readyz",
                      absl::Milliseconds(1));
  config->AddDuration("drain_period", absl::Seconds(5),
                      "after SIGTERM: /readyz answers 503 this long before listening stops");
  config->AddDuration("shutdown_deadline", absl::Seconds(10),
                      "then in-flight calls get this long before they are cancelled");
  config->AddString("log_level", "info", "debug, info, warning or error", [](const std::string& v) {
    return CheckOneOf(v, {"debug", "info", "warning", "error"});
  });
}

namespace {

std::vector<std::string> CommaList(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return out;
}

}  // namespace

absl::StatusOr<GatewayOptions> GatewayOptionsFromConfig(const Config& config) {
  GatewayOptions o;
  o.http.listen_host = config.GetString("listen_host");
  o.http.port = static_cast<int>(config.GetInt("port"));
  o.http.threads = static_cast<int>(config.GetInt("http_threads"));
  o.http.max_body_bytes = static_cast<size_t>(config.GetInt("max_body_bytes"));
  o.http.max_header_bytes = static_cast<size_t>(config.GetInt("max_header_bytes"));
  o.http.idle_timeout = config.GetDuration("idle_timeout");
  o.http.read_timeout = config.GetDuration("read_timeout");
  o.http.write_timeout = config.GetDuration("write_timeout");
  o.http.max_connections = static_cast<int>(config.GetInt("max_connections"));
  o.http.stream_heartbeat = config.GetDuration("sse_heartbeat");
  o.max_inflight_calls = static_cast<int>(config.GetInt("max_inflight_calls"));
  o.max_streams = static_cast<int>(config.GetInt("max_streams"));
  absl::StatusOr<tls::ServerTlsConfig> https = tls::ServerTlsFromConfig(config, false);
  if (!https.ok()) return https.status();
  o.http.tls_cert_chain_pem = https->cert_chain_pem;
  o.http.tls_private_key_pem = https->private_key_pem;
  absl::StatusOr<tls::ClientTlsConfig> backend_tls = tls::ClientTlsFromConfig(config);
  if (!backend_tls.ok()) return backend_tls.status();
  o.backend_tls = *std::move(backend_tls);
  for (const BackendDescriptor& backend : KnownBackends()) {
    o.backend_addresses[backend.name] = config.GetString(absl::StrCat(backend.name, "_addr"));
  }
  o.anonymous_read_services.clear();
  for (const std::string& s : CommaList(config.GetString("anonymous_read_services"))) {
    o.anonymous_read_services.insert(s);
  }

  if (!ParseJwtAlgorithm(config.GetString("jwt_algorithm"), &o.jwt.algorithm)) {
    return absl::InvalidArgumentError("--jwt_algorithm must be HS256, RS256 or ES256");
  }
  if (o.jwt.algorithm == JwtAlgorithm::kHS256) {
    o.jwt.secret = config.GetString("jwt_secret");
    if (o.jwt.secret.size() < 32) {
      return absl::InvalidArgumentError(
          "--jwt_secret / CLERKSHIP_JWT_SECRET must be set to at least 32 bytes for HS256");
    }
  } else {
    std::string file = config.GetString("jwt_public_key_file");
    if (file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--jwt_public_key_file is required for ",
                                                     config.GetString("jwt_algorithm")));
    }
    absl::StatusOr<std::string> pem = ReadFile(file);
    if (!pem.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("--jwt_public_key_file: ", pem.status().message()));
    o.jwt.public_key_pem = *std::move(pem);
  }
  o.jwt.issuer = config.GetString("jwt_issuer");
  o.jwt.audience = config.GetString("jwt_audience");
  o.jwt.leeway = config.GetDuration("jwt_leeway");
  o.jwt.cache_capacity = static_cast<size_t>(config.GetInt("jwt_cache_size"));
  o.rate_limit_per_second = static_cast<double>(config.GetInt("rate_limit_rps"));
  o.rate_limit_burst = static_cast<double>(config.GetInt("rate_limit_burst"));
  o.cors_allowed_origins = CommaList(config.GetString("cors_allowed_origins"));
  o.default_timeout = config.GetDuration("request_timeout");
  o.max_timeout = config.GetDuration("max_request_timeout");
  if (o.default_timeout > o.max_timeout) {
    return absl::InvalidArgumentError("--request_timeout must not exceed --max_request_timeout");
  }
  o.json_emit_defaults = config.GetBool("json_emit_defaults");
  o.trust_forwarded_for = config.GetBool("trust_forwarded_for");
  o.access_log = config.GetBool("access_log");
  o.readiness_timeout = config.GetDuration("readiness_timeout");
  o.drain_period = config.GetDuration("drain_period");
  o.shutdown_deadline = config.GetDuration("shutdown_deadline");
  return o;
}

}  // namespace clerkship::gateway
