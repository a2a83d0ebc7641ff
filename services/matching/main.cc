// clerkship-matching: recommendations, placement rounds and waitlist promotion.

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/events/events.h"
#include "common/logging/log.h"
#include "common/redis/redis_client.h"
#include "common/server/server_runner.h"
#include "common/tls/tls.h"
#include "services/matching/catalog_cache.h"
#include "services/matching/matching_service.h"
#include "services/matching/redis_round_store.h"
#include "services/matching/service_clients.h"
#include "services/matching/waitlist_promoter.h"

namespace {

std::string DefaultConsumerName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
    return "matching";
  return absl::StrCat(host, "-", getpid());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace clerkship;
  Config config("clerkship-matching",
                "matching service: recommendations, placement rounds, waitlist "
                "promotion");
  AddServerFlags(&config, 50053, 9103);
  AddRedisFlags(&config);
  config.AddString("catalog_addr", "127.0.0.1:50051",
                   "catalog service address host:port", CheckHostPort);
  config.AddString("applicant_addr", "127.0.0.1:50052",
                   "applicant service address host:port", CheckHostPort);
  config.AddDuration(
      "rpc_timeout", absl::Seconds(5),
      "deadline of each call to the catalog and applicant services",
      absl::Milliseconds(100));
  config.AddDuration(
      "catalog_refresh_interval", absl::Minutes(10),
      "full reload of the catalog cache (events keep it current in between)",
      absl::Seconds(1));
  config.AddString(
      "consumer_name", "",
      "this replica's name in the cat:events consumer group (empty: host-pid)");
  config.AddDuration("promotion_offer_lifetime", absl::ZeroDuration(),
                     "lifetime of waitlist-promotion offers (0: the applicant "
                     "service default)");
  config.AddDuration("matched_offer_lifetime", absl::ZeroDuration(),
                     "lifetime of offers made by PublishRound (0: the "
                     "applicant service default)");
  config.AddInt("publish_concurrency", 32,
                "CreateMatchedOffer calls in flight while publishing", 1, 1024);
  config.AddDuration(
      "promotion_claim_lease", absl::Seconds(60),
      "how long a replica holds a freed seat before another may retry it",
      absl::Seconds(1));
  tls::AddClientTlsFlags(&config);
  config.ParseOrExit(argc, argv);
  InitProcess(config, "matching");

  redis::ClientOptions redis_options = RedisOptionsFromConfig(config);
  auto redis = redis::Client::Create(redis_options);
  const absl::Duration rpc_timeout = config.GetDuration("rpc_timeout");
  const tls::ClientTlsConfig client_tls = tls::ClientTlsFromConfigOrExit(config);
  matching::CatalogClient catalog(
      tls::CreateChannel(config.GetString("catalog_addr"), client_tls),
      rpc_timeout);
  matching::ApplicantClient applicants(
      tls::CreateChannel(config.GetString("applicant_addr"), client_tls),
      rpc_timeout);

  matching::CatalogCacheOptions cache_options;
  cache_options.redis = redis_options;
  cache_options.refresh_interval =
      config.GetDuration("catalog_refresh_interval");
  matching::CatalogCache cache(&catalog, cache_options);
  cache.Start();

  matching::RedisRoundStore store(redis.get());
  matching::MatchingServiceOptions service_options;
  service_options.matched_offer_lifetime =
      config.GetDuration("matched_offer_lifetime");
  service_options.publish_concurrency =
      static_cast<int>(config.GetInt("publish_concurrency"));
  matching::MatchingServiceImpl service(&store, &cache, &catalog, &applicants,
                                        Clock::Real(), service_options);

  std::string consumer = config.GetString("consumer_name");
  if (consumer.empty()) consumer = DefaultConsumerName();
  matching::RedisPromotionClaims claims(
      redis.get(), config.GetDuration("promotion_claim_lease"),
      absl::Hours(24 * 7));
  matching::WaitlistPromoterOptions promoter_options;
  promoter_options.consumer = consumer;
  promoter_options.offer_lifetime =
      config.GetDuration("promotion_offer_lifetime");
  matching::WaitlistPromoter promoter(&applicants, &claims, Clock::Real(),
                                      promoter_options);
  events::ConsumerOptions consumer_options;
  consumer_options.stream = "cat:events";
  consumer_options.group = "matching";
  consumer_options.consumer = consumer;
  consumer_options.dead_letter_stream = "mat:deadletter";
  consumer_options.start_id =
      "$";  // a new group promotes from now on, not the past
  events::StreamConsumer consumer_loop(
      redis_options, consumer_options,
      [&promoter](const events::StreamEntry& entry) {
        return promoter.Handle(entry);
      });
  consumer_loop.Start();

  ServerRunner runner(ServerOptionsFromConfig(config, "matching"));
  runner.AddService(&service,
                    matching::v1::MatchingService::service_full_name());
  runner.TrackRedisHealth(redis.get());
  if (absl::Status s = runner.Start(); !s.ok()) {
    log::Error("cannot start", {{"error", std::string(s.message())}});
    return 1;
  }
  log::Info("matching service started", {{"consumer", consumer}});
  runner.RunUntilSignalled();
  consumer_loop.Stop();
  cache.Stop();
  return 0;
}
