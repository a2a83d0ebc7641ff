#pragma once

// The catalog server as the binary runs it (CatalogService + SeatInventoryService, Redis
// stores, seat sweeper), in-process on a free port and backed by its own real redis-server.
// Used by the catalog tests and the search benchmark.

#include <memory>

#include <grpcpp/grpcpp.h>

#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "clerkship/catalog/v1/seats.grpc.pb.h"
#include "common/server/server_runner.h"
#include "common/util/clock.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/redis_catalog_store.h"
#include "services/catalog/redis_seat_store.h"
#include "services/catalog/seat_service.h"
#include "services/catalog/seat_sweeper.h"
#include "tests/support/test_redis.h"

namespace clerkship::catalog {

struct InProcessCatalog {
  // Null when Redis or the server does not come up. The sweeper is created, not started.
  static std::unique_ptr<InProcessCatalog> Start(Clock* clock) {
    auto c = std::make_unique<InProcessCatalog>();
    c->redis_server = testing::TestRedis::Start();
    if (!c->redis_server) return nullptr;
    redis::ClientOptions ro;
    ro.address = c->redis_server->address();
    ro.health_check_interval = absl::Milliseconds(100);
    ro.command_timeout = absl::Seconds(10);
    c->redis = redis::Client::Create(ro);
    if (!c->redis->WaitHealthy(absl::Seconds(5))) return nullptr;
    c->catalog_store = std::make_unique<RedisCatalogStore>(c->redis.get());
    c->seat_store = std::make_unique<RedisSeatStore>(c->redis.get());
    c->catalog_service = std::make_unique<CatalogServiceImpl>(c->catalog_store.get(), clock);
    c->seat_service = std::make_unique<SeatInventoryServiceImpl>(c->seat_store.get(), clock);
    c->sweeper = std::make_unique<SeatSweeper>(c->seat_store.get(), clock, absl::Seconds(1));
    ServerOptions so;
    so.service_name = "catalog";
    so.listen_address = "127.0.0.1:0";
    so.drain_period = absl::ZeroDuration();
    c->runner = std::make_unique<ServerRunner>(so);
    c->runner->AddService(c->catalog_service.get(), v1::CatalogService::service_full_name());
    c->runner->AddService(c->seat_service.get(), v1::SeatInventoryService::service_full_name());
    c->runner->TrackRedisHealth(c->redis.get());
    if (!c->runner->Start().ok()) return nullptr;
    c->channel = grpc::CreateChannel(c->runner->address(), grpc::InsecureChannelCredentials());
    c->catalog = v1::CatalogService::NewStub(c->channel);
    c->seats = v1::SeatInventoryService::NewStub(c->channel);
    return c;
  }

  ~InProcessCatalog() {
    if (sweeper) sweeper->Stop();
    if (runner) runner->Shutdown();
  }

  std::unique_ptr<testing::TestRedis> redis_server;
  std::unique_ptr<redis::Client> redis;
  std::unique_ptr<RedisCatalogStore> catalog_store;
  std::unique_ptr<RedisSeatStore> seat_store;
  std::unique_ptr<CatalogServiceImpl> catalog_service;
  std::unique_ptr<SeatInventoryServiceImpl> seat_service;
  std::unique_ptr<SeatSweeper> sweeper;
  std::unique_ptr<ServerRunner> runner;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::CatalogService::Stub> catalog;
  std::unique_ptr<v1::SeatInventoryService::Stub> seats;
};

}  // namespace clerkship::catalog
