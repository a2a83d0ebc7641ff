// clerkship-admin: operator and local-development commands.
//
//   clerkship-admin token --sub applicants/a1 --role applicant [--site sites/x] [--ttl 1h]
//       prints a signed bearer token, made with the same key settings as the gateway
//       (--jwt_algorithm, --jwt_secret or --jwt_private_key_file, --jwt_issuer,
//       --jwt_audience, or their CLERKSHIP_* environment variables);
//   clerkship-admin routes     lists the HTTP routes the gateway builds from the protos;
//   clerkship-admin openapi    prints the gateway's OpenAPI document.

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/config/config.h"
#include "services/gateway/fronted_services.h"
#include "services/gateway/gateway_config.h"
#include "services/gateway/jwt.h"
#include "services/gateway/openapi.h"
#include "services/gateway/route_table.h"

namespace clerkship::gateway {
namespace {

constexpr char kUsage[] =
    "usage: clerkship-admin <command> [flags]\n"
    "commands:\n"
    "  token --sub <applicants/x|coordinators/x|admins/x> --role <applicant|coordinator|admin>\n"
    "        [--site sites/x] [--ttl 1h] [key flags]   print a signed bearer token\n"
    "  routes                                          list the gateway's HTTP routes\n"
    "  openapi                                         print the OpenAPI document\n"
    "Key flags (or CLERKSHIP_* environment variables), as for the gateway:\n";

int Fail(const std::string& message) {
  std::cerr << "clerkship-admin: " << message << "\n";
  return 2;
}

int Token(int argc, char** argv) {
  std::string sub, role, site;
  absl::Duration ttl = absl::Hours(1);
  // The token's own flags are taken out here; the rest are the shared key settings.
  std::vector<const char*> rest = {"clerkship-admin token"};
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    auto value_of = [&](const std::string& flag, std::string* out) {
      if (arg == flag && i + 1 < argc) {
        *out = argv[++i];
        return true;
      }
      if (arg.rfind(flag + "=", 0) == 0) {
        *out = arg.substr(flag.size() + 1);
        return true;
      }
      return false;
    };
    std::string ttl_text;
    if (value_of("--sub", &sub) || value_of("--role", &role) || value_of("--site", &site)) {
      continue;
    }
    if (value_of("--ttl", &ttl_text)) {
      if (!absl::ParseDuration(ttl_text, &ttl) || ttl <= absl::ZeroDuration()) {
        return Fail("--ttl must be a positive duration such as 15m or 24h");
      }
      continue;
    }
    rest.push_back(argv[i]);
  }
  Config config("clerkship-admin token", "mint a bearer token");
  AddJwtFlags(&config);
  config.AddString("jwt_private_key_file", "", "RS256/ES256: PEM private key file");
  config.ParseOrExit(static_cast<int>(rest.size()), rest.data());

  if (absl::Status s = ValidateIdentityClaims(sub, role, site); !s.ok()) {
    return Fail(absl::StrCat("--sub/--role/--site: ", s.message()));
  }
  JwtSigningKey key;
  if (!ParseJwtAlgorithm(config.GetString("jwt_algorithm"), &key.algorithm)) {
    return Fail("--jwt_algorithm must be HS256, RS256 or ES256");
  }
  if (key.algorithm == JwtAlgorithm::kHS256) {
    key.secret = config.GetString("jwt_secret");
    if (key.secret.size() < 32) {
      return Fail(
          "set --jwt_secret or CLERKSHIP_JWT_SECRET (at least 32 bytes), as for the gateway");
    }
  } else {
    absl::StatusOr<std::string> pem = ReadFile(config.GetString("jwt_private_key_file"));
    if (!pem.ok()) return Fail("--jwt_private_key_file is required for RS256/ES256");
    key.private_key_pem = *std::move(pem);
  }
  std::string claims = TokenClaimsJson(sub, role, site, config.GetString("jwt_issuer"),
                                       config.GetString("jwt_audience"), absl::Now(), ttl);
  absl::StatusOr<std::string> token = SignJwt(key, claims);
  if (!token.ok()) return Fail(std::string(token.status().message()));
  std::cout << *token << "\n";
  return 0;
}

absl::StatusOr<std::unique_ptr<RouteTable>> DefaultRoutes() {
  return RouteTable::Build(FrontedServices({"clerkship.catalog.v1.CatalogService"}));
}

int Routes() {
  auto routes = DefaultRoutes();
  if (!routes.ok()) return Fail(std::string(routes.status().message()));
  for (const auto& route : (*routes)->routes()) {
    std::cout << route->http_method << "\t" << OpenApiPath(route->path) << "\t" << route->rpc_path
              << "\t" << (route->anonymous ? "public" : "token") << "\n";
  }
  return 0;
}

int OpenApi() {
  auto routes = DefaultRoutes();
  if (!routes.ok()) return Fail(std::string(routes.status().message()));
  std::cout << BuildOpenApi(**routes, OpenApiOptions()) << "\n";
  return 0;
}

}  // namespace
}  // namespace clerkship::gateway

int main(int argc, char** argv) {
  using namespace clerkship::gateway;
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "token") return Token(argc - 2, argv + 2);
  if (command == "routes") return Routes();
  if (command == "openapi") return OpenApi();
  clerkship::Config help("clerkship-admin", "");
  AddJwtFlags(&help);
  help.AddString("jwt_private_key_file", "", "RS256/ES256: PEM private key file");
  std::cerr << kUsage << help.Usage();
  return command == "--help" || command == "help" ? 0 : 2;
}
