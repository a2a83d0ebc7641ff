// clerkship-catalog-demo: loads the demo catalog (sites, rotations, sessions, all published)
// into a running catalog service through its public API, acting as an admin. Running it
// again creates nothing new: whatever exists is skipped.

#include <chrono>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "common/config/config.h"
#include "common/logging/log.h"
#include "common/tls/tls.h"
#include "services/catalog/tools/demo_catalog.h"

int main(int argc, char** argv) {
  using namespace clerkship;
  Config config("clerkship-catalog-demo",
                "loads the demo catalog into a running catalog service (idempotent)");
  config.AddString("catalog_addr", "127.0.0.1:50051", "address of the catalog service",
                   CheckHostPort);
  config.AddString("principal", "admins/demo", "admin principal the catalog is created as",
                   [](const std::string& v) -> std::string {
                     return absl::StartsWith(v, "admins/") && v.size() > 7
                                ? ""
                                : "must be an admin principal such as admins/demo";
                   });
  config.AddInt("seed", 2027, "seed of the generated catalog (same seed, same catalog)", 0,
                int64_t{1} << 62);
  config.AddDuration("connect_timeout", absl::Seconds(30),
                     "how long to wait for the catalog service to come up", absl::Seconds(1));
  tls::AddClientTlsFlags(&config);
  config.ParseOrExit(argc, argv);
  log::SetService("catalog-demo");

  auto channel =
      tls::CreateChannel(config.GetString("catalog_addr"), tls::ClientTlsFromConfigOrExit(config));
  auto deadline = std::chrono::system_clock::now() +
                  absl::ToChronoSeconds(config.GetDuration("connect_timeout"));
  if (!channel->WaitForConnected(deadline)) {
    log::Error("catalog service is not reachable", {{"addr", config.GetString("catalog_addr")}});
    return 1;
  }

  absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  catalog::demo::DemoCatalog demo =
      catalog::demo::BuildDemoCatalog(today, static_cast<uint64_t>(config.GetInt("seed")));
  catalog::demo::LoadStats stats;
  absl::Status s =
      catalog::demo::LoadDemoCatalog(channel, demo, config.GetString("principal"), &stats);
  log::Info(s.ok() ? "demo catalog loaded" : "demo catalog load failed",
            {{"sites_created", std::to_string(stats.sites_created)},
             {"sites_existing", std::to_string(stats.sites_existing)},
             {"rotations_created", std::to_string(stats.rotations_created)},
             {"rotations_existing", std::to_string(stats.rotations_existing)},
             {"sessions_created", std::to_string(stats.sessions_created)},
             {"sessions_existing", std::to_string(stats.sessions_existing)},
             {"rotations_published", std::to_string(stats.rotations_published)}});
  if (!s.ok()) {
    log::Error("demo catalog load failed", {{"error", std::string(s.message())}});
    return 1;
  }
  return 0;
}
