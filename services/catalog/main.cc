// clerkship-catalog: sites, rotations, sessions, search and the seat inventory.

#include "common/config/config.h"
#include "common/logging/log.h"
#include "common/redis/redis_client.h"
#include "common/server/server_runner.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/redis_catalog_store.h"

int main(int argc, char** argv) {
  using namespace clerkship;
  Config config("clerkship-catalog", "catalog service: sites, rotations, sessions, seats");
  AddServerFlags(&config, 50051, 9101);
  AddRedisFlags(&config);
  config.ParseOrExit(argc, argv);
  InitLogging(config, "catalog");

  auto redis = redis::Client::Create(RedisOptionsFromConfig(config));
  catalog::RedisCatalogStore store(redis.get());
  catalog::CatalogServiceImpl catalog_service(&store, Clock::Real());

  ServerRunner runner(ServerOptionsFromConfig(config, "catalog"));
  runner.AddService(&catalog_service, catalog::v1::CatalogService::service_full_name());
  runner.TrackRedisHealth(redis.get());
  if (absl::Status s = runner.Start(); !s.ok()) {
    log::Error("cannot start", {{"error", std::string(s.message())}});
    return 1;
  }
  runner.RunUntilSignalled();
  return 0;
}
