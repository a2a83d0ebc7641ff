// clerkship-catalog: sites, rotations, sessions, search and the seat inventory.

#include "common/config/config.h"
#include "common/logging/log.h"
#include "common/redis/redis_client.h"
#include "common/server/server_runner.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/redis_catalog_store.h"
#include "services/catalog/redis_seat_store.h"
#include "services/catalog/seat_service.h"
#include "services/catalog/seat_sweeper.h"

int main(int argc, char** argv) {
  using namespace clerkship;
  Config config("clerkship-catalog", "catalog service: sites, rotations, sessions, seats");
  AddServerFlags(&config, 50051, 9101);
  AddRedisFlags(&config);
  config.AddDuration("seat_sweep_interval", absl::Seconds(1),
                     "how often lapsed seat holds are swept (seat.expired events)",
                     absl::Milliseconds(10));
  config.AddInt("redis_wait_replicas", 0,
                "replicas that must acknowledge a seat confirmation (Redis WAIT) before it "
                "succeeds; 0: do not wait",
                0, 16);
  config.AddDuration("redis_wait_timeout", absl::Milliseconds(250),
                     "how long a seat confirmation waits for --redis_wait_replicas (WAIT holds "
                     "its Redis connection meanwhile, so keep it short)",
                     absl::Milliseconds(1));
  config.ParseOrExit(argc, argv);
  InitProcess(config, "catalog");

  auto redis = redis::Client::Create(RedisOptionsFromConfig(config));
  catalog::RedisCatalogStore catalog_store(redis.get());
  catalog::RedisSeatStore seat_store(redis.get());
  seat_store.SetConfirmWait(static_cast<int>(config.GetInt("redis_wait_replicas")),
                            config.GetDuration("redis_wait_timeout"));
  catalog::CatalogServiceImpl catalog_service(&catalog_store, Clock::Real());
  catalog::SeatInventoryServiceImpl seat_service(&seat_store, Clock::Real());
  catalog::SeatSweeper sweeper(&seat_store, Clock::Real(),
                               config.GetDuration("seat_sweep_interval"));

  ServerRunner runner(ServerOptionsFromConfig(config, "catalog"));
  runner.AddService(&catalog_service, catalog::v1::CatalogService::service_full_name());
  runner.AddService(&seat_service, catalog::v1::SeatInventoryService::service_full_name());
  runner.TrackRedisHealth(redis.get());
  if (absl::Status s = runner.Start(); !s.ok()) {
    log::Error("cannot start", {{"error", std::string(s.message())}});
    return 1;
  }
  sweeper.Start();
  catalog_store.LoadIndex();  // before the first search or GetRotation needs it
  runner.RunUntilSignalled();
  sweeper.Stop();
  return 0;
}
