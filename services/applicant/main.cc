// clerkship-applicant: applicants, documents, eligibility, applications and the experience
// record.

#include <grpcpp/grpcpp.h>

#include "common/config/config.h"
#include "common/logging/log.h"
#include "common/redis/redis_client.h"
#include "common/server/server_runner.h"
#include "common/tls/tls.h"
#include "services/applicant/applicant_profiles.h"
#include "services/applicant/applicant_service.h"
#include "services/applicant/application_lifecycle.h"
#include "services/applicant/catalog_client.h"
#include "services/applicant/offer_expiry_scheduler.h"
#include "services/applicant/redis_applicant_store.h"

int main(int argc, char** argv) {
  using namespace clerkship;
  Config config("clerkship-applicant",
                "applicant service: profiles, documents, eligibility, applications");
  AddServerFlags(&config, 50052, 9102);
  AddRedisFlags(&config);
  config.AddString("catalog_addr", "127.0.0.1:50051", "address of the catalog service",
                   CheckHostPort);
  config.AddDuration("offer_ttl", absl::Hours(72),
                     "lifetime of an offer unless the request "
                     "sets one",
                     absl::Minutes(1));
  config.AddDuration("hold_grace", absl::Minutes(5), "how long a seat hold outlives its offer");
  config.AddDuration("expiry_scan_interval", absl::Seconds(5),
                     "how often lapsed offers and pending seat releases are looked for",
                     absl::Milliseconds(100));
  config.AddInt("redis_wait_replicas", 0,
                "replicas that must acknowledge an application's creation (submission, "
                "matched offer) and its acceptance or any later change of an accepted one "
                "(Redis WAIT) before it succeeds; otherwise UNAVAILABLE, the write staying "
                "on the master. Set it like the catalog's; 0: do not wait",
                0, 16);
  config.AddDuration("redis_wait_timeout", absl::Milliseconds(250),
                     "how long those writes wait for --redis_wait_replicas (WAIT holds its "
                     "Redis connection meanwhile, so keep it short)",
                     absl::Milliseconds(1));
  tls::AddClientTlsFlags(&config);
  config.ParseOrExit(argc, argv);
  InitProcess(config, "applicant");

  auto redis = redis::Client::Create(RedisOptionsFromConfig(config));
  applicant::RedisApplicantStore store(redis.get());
  store.SetDurableWait(static_cast<int>(config.GetInt("redis_wait_replicas")),
                       config.GetDuration("redis_wait_timeout"));
  applicant::GrpcCatalogClient catalog(
      tls::CreateChannel(config.GetString("catalog_addr"), tls::ClientTlsFromConfigOrExit(config)),
      "services/applicant");
  applicant::LifecycleOptions lifecycle_options;
  lifecycle_options.offer_ttl = config.GetDuration("offer_ttl");
  lifecycle_options.hold_grace = config.GetDuration("hold_grace");
  applicant::ApplicationLifecycle lifecycle(&store, &catalog, Clock::Real(), lifecycle_options);
  applicant::ApplicantProfiles profiles(&store, &catalog, Clock::Real());
  applicant::ApplicantServiceImpl service(&profiles, &lifecycle);
  applicant::SchedulerOptions scheduler_options;
  scheduler_options.interval = config.GetDuration("expiry_scan_interval");
  applicant::OfferExpiryScheduler scheduler(&store, &lifecycle, Clock::Real(), scheduler_options);

  ServerRunner runner(ServerOptionsFromConfig(config, "applicant"));
  runner.AddService(&service, applicant::v1::ApplicantService::service_full_name());
  runner.TrackRedisHealth(redis.get());
  if (absl::Status s = runner.Start(); !s.ok()) {
    log::Error("cannot start", {{"error", std::string(s.message())}});
    return 1;
  }
  scheduler.Start();
  runner.RunUntilSignalled();
  scheduler.Stop();
  return 0;
}
