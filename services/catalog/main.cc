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
  config.ParseOrExit(argc, argv);
  InitLogging(config, "catalog");

  auto redis = redis::Client::Create(RedisOptionsFromConfig(config));
  catalog::RedisCatalogStore catalog_store(redis.get());
  catalog::RedisSeatStore seat_store(redis.get());
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
  runner.RunUntilSignalled();
  sweeper.Stop();
  return 0;
}
