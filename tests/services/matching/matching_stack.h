#pragma once

// The matching service wired to its neighbours for integration tests: a real
// Redis (TestRedis), the real catalog (catalog_lib: catalog + seat inventory)
// in process, an in-memory applicant service that speaks the applicant API (see
// FakeApplicantService), and any number of matching instances sharing them,
// each with its own catalog cache, waitlist consumer and gRPC server on port 0.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "clerkship/applicant/v1/applicant.grpc.pb.h"
#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "clerkship/catalog/v1/seats.grpc.pb.h"
#include "clerkship/matching/v1/matching.grpc.pb.h"
#include "common/events/events.h"
#include "common/server/reactor.h"
#include "common/server/server_runner.h"
#include "common/status/status.h"
#include "common/util/ids.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/redis_catalog_store.h"
#include "services/catalog/redis_seat_store.h"
#include "services/catalog/seat_service.h"
#include "services/matching/catalog_cache.h"
#include "services/matching/matching_service.h"
#include "services/matching/redis_round_store.h"
#include "services/matching/service_clients.h"
#include "services/matching/waitlist_promoter.h"
#include "tests/support/grpc_test_util.h"
#include "tests/support/test_redis.h"

namespace clerkship::matching::testing {

using applicant::v1::Application;

inline redis::ClientOptions RedisOptionsFor(
    const clerkship::testing::TestRedis& server) {
  redis::ClientOptions o;
  o.address = server.address();
  o.health_check_interval = absl::Milliseconds(100);
  o.command_timeout = absl::Seconds(10);
  return o;
}

inline ServerOptions LocalServer(const std::string& name) {
  ServerOptions so;
  so.service_name = name;
  so.listen_address = "127.0.0.1:0";
  so.drain_period = absl::ZeroDuration();
  so.shutdown_deadline = absl::Seconds(2);
  so.max_message_bytes = 64 * 1024 * 1024;
  return so;
}

// The applicant API, in memory: just enough behaviour for the matching
// service's calls (GetApplicant, ListDocuments, ListApplications,
// OfferApplication, CreateMatchedOffer), holding seats in the real catalog
// exactly as the applicant service does, so the catalog's seat holds and seat
// events are the real ones.
class FakeApplicantService final
    : public applicant::v1::ApplicantService::CallbackService {
 public:
  explicit FakeApplicantService(std::shared_ptr<grpc::Channel> catalog)
      : seats_(catalog::v1::SeatInventoryService::NewStub(std::move(catalog))) {
  }

  void AddApplicant(const applicant::v1::Applicant& a) {
    absl::MutexLock lock(&mu_);
    applicants_[a.name()] = a;
  }
  std::string AddApplication(const std::string& applicant,
                             const std::string& session,
                             Application::State state,
                             int waitlist_position = 0) {
    absl::MutexLock lock(&mu_);
    Application app;
    app.set_name(absl::StrCat("applications/app", ++next_id_));
    app.set_applicant(applicant);
    app.set_session(session);
    app.set_rotation(session.substr(0, session.find("/sessions/")));
    app.set_state(state);
    app.set_waitlist_position(waitlist_position);
    applications_[app.name()] = app;
    return app.name();
  }
  Application Get(const std::string& name) {
    absl::MutexLock lock(&mu_);
    return applications_[name];
  }
  // The applicant declines: the seat goes back to the catalog, which emits
  // seat.released.
  void Decline(const std::string& name) {
    std::string session;
    {
      absl::MutexLock lock(&mu_);
      Application& app = applications_[name];
      app.set_state(Application::DECLINED);
      session = app.session();
    }
    grpc::ClientContext context;
    clerkship::testing::AsService(&context);
    catalog::v1::ReleaseSeatRequest release;
    release.set_session(session);
    release.set_holder(name);
    release.set_reason("DECLINED");
    catalog::v1::ReleaseSeatResponse response;
    grpc::Status s = seats_->ReleaseSeat(&context, release, &response);
    if (!s.ok() || !response.released()) std::abort();
  }
  // CreateMatchedOffer answers UNAVAILABLE after this many more calls
  // (negative: never), as if the applicant service went down mid-publish.
  std::atomic<int> unavailable_after{-1};

  int matched_offers_created() {
    absl::MutexLock lock(&mu_);
    return matched_offers_created_;
  }
  int offers_made() {
    absl::MutexLock lock(&mu_);
    return offers_made_;
  }
  std::vector<Application> All() {
    absl::MutexLock lock(&mu_);
    std::vector<Application> out;
    for (auto& [name, app] : applications_) out.push_back(app);
    return out;
  }

  grpc::ServerUnaryReactor* GetApplicant(
      grpc::CallbackServerContext* context,
      const applicant::v1::GetApplicantRequest* request,
      applicant::v1::Applicant* response) override {
    absl::MutexLock lock(&mu_);
    auto it = applicants_.find(request->name());
    if (it == applicants_.end())
      return FinishNow(context, absl::NotFoundError("no applicant"));
    *response = it->second;
    return FinishNow(context, absl::OkStatus());
  }

  grpc::ServerUnaryReactor* ListDocuments(
      grpc::CallbackServerContext* context,
      const applicant::v1::ListDocumentsRequest* request,
      applicant::v1::ListDocumentsResponse*) override {
    absl::MutexLock lock(&mu_);
    if (applicants_.count(request->parent()) == 0) {
      return FinishNow(context, absl::NotFoundError("no applicant"));
    }
    return FinishNow(context, absl::OkStatus());
  }

  grpc::ServerUnaryReactor* ListApplications(
      grpc::CallbackServerContext* context,
      const applicant::v1::ListApplicationsRequest* request,
      applicant::v1::ListApplicationsResponse* response) override {
    absl::MutexLock lock(&mu_);
    std::vector<Application> found;
    for (auto& [name, app] : applications_) {
      if (!request->applicant().empty() &&
          app.applicant() != request->applicant())
        continue;
      if (!request->session().empty() && app.session() != request->session())
        continue;
      if (request->state() != Application::STATE_UNSPECIFIED &&
          app.state() != request->state()) {
        continue;
      }
      found.push_back(app);
    }
    if (request->order_by() == "waitlist_position") {
      std::sort(found.begin(), found.end(),
                [](const Application& a, const Application& b) {
                  return a.waitlist_position() < b.waitlist_position();
                });
    }
    int limit = request->page_size() == 0 ? 20 : request->page_size();
    for (int i = 0; i < static_cast<int>(found.size()) && i < limit; ++i) {
      *response->add_applications() = found[i];
    }
    return FinishNow(context, absl::OkStatus());
  }

  grpc::ServerUnaryReactor* OfferApplication(
      grpc::CallbackServerContext* context,
      const applicant::v1::OfferApplicationRequest* request,
      Application* response) override {
    std::string session;
    {
      absl::MutexLock lock(&mu_);
      auto it = applications_.find(request->name());
      if (it == applications_.end())
        return FinishNow(context, absl::NotFoundError("no application"));
      if (it->second.state() != Application::SUBMITTED &&
          it->second.state() != Application::WAITLISTED) {
        return FinishNow(context, absl::FailedPreconditionError("wrong state"));
      }
      session = it->second.session();
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const std::string name = request->name();
    Hold(session, name, [this, reactor, response, name](absl::Status s) {
      if (!s.ok()) return reactor->Finish(ToGrpcStatus(s));
      absl::MutexLock lock(&mu_);
      Application& app = applications_[name];
      app.set_state(Application::OFFERED);
      app.set_waitlist_position(0);
      ++offers_made_;
      *response = app;
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* CreateMatchedOffer(
      grpc::CallbackServerContext* context,
      const applicant::v1::CreateMatchedOfferRequest* request,
      Application* response) override {
    std::string name;
    {
      absl::MutexLock lock(&mu_);
      if (unavailable_after == 0) {
        return FinishNow(context,
                         absl::UnavailableError("applicant service is down"));
      }
      if (unavailable_after > 0) --unavailable_after;
      auto seen = by_request_.find(request->request_id());
      if (seen != by_request_.end()) {
        *response = applications_[seen->second];
        return FinishNow(context, absl::OkStatus());
      }
      name = absl::StrCat("applications/app", ++next_id_);
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto req =
        std::make_shared<applicant::v1::CreateMatchedOfferRequest>(*request);
    Hold(request->session(), name,
         [this, reactor, response, req, name](absl::Status s) {
           if (!s.ok()) return reactor->Finish(ToGrpcStatus(s));
           absl::MutexLock lock(&mu_);
           Application app;
           app.set_name(name);
           app.set_applicant(req->applicant());
           app.set_session(req->session());
           app.set_state(Application::OFFERED);
           app.set_round(req->round());
           applications_[name] = app;
           by_request_[req->request_id()] = name;
           ++matched_offers_created_;
           *response = app;
           reactor->Finish(grpc::Status::OK);
         });
    return reactor;
  }

 private:
  void Hold(const std::string& session, const std::string& holder,
            std::function<void(absl::Status)> done) {
    struct Call {
      grpc::ClientContext context;
      catalog::v1::HoldSeatRequest request;
      catalog::v1::SeatHold response;
    };
    auto call = std::make_shared<Call>();
    clerkship::testing::AsService(&call->context);
    call->request.set_session(session);
    call->request.set_holder(holder);
    *call->request.mutable_expire_time() =
        ToProtoTime(absl::Now() + absl::Hours(72));
    Call* raw = call.get();
    seats_->async()->HoldSeat(&raw->context, &raw->request, &raw->response,
                              [call, done = std::move(done)](grpc::Status s) {
                                done(FromGrpcStatus(s));
                              });
  }

  std::unique_ptr<catalog::v1::SeatInventoryService::Stub> seats_;
  absl::Mutex mu_;
  std::map<std::string, applicant::v1::Applicant> applicants_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, Application> applications_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> by_request_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  int matched_offers_created_ ABSL_GUARDED_BY(mu_) = 0;
  int offers_made_ ABSL_GUARDED_BY(mu_) = 0;
};

// The real catalog, in process.
struct CatalogServer {
  explicit CatalogServer(const clerkship::testing::TestRedis& server) {
    redis = redis::Client::Create(RedisOptionsFor(server));
    redis->WaitHealthy(absl::Seconds(5));
    catalog_store = std::make_unique<catalog::RedisCatalogStore>(redis.get());
    seat_store = std::make_unique<catalog::RedisSeatStore>(redis.get());
    catalog_service = std::make_unique<catalog::CatalogServiceImpl>(
        catalog_store.get(), Clock::Real());
    seat_service = std::make_unique<catalog::SeatInventoryServiceImpl>(
        seat_store.get(), Clock::Real());
    runner = std::make_unique<ServerRunner>(LocalServer("catalog"));
    runner->AddService(catalog_service.get(),
                       catalog::v1::CatalogService::service_full_name());
    runner->AddService(seat_service.get(),
                       catalog::v1::SeatInventoryService::service_full_name());
    runner->TrackRedisHealth(redis.get());
    if (!runner->Start().ok()) std::abort();
    channel = grpc::CreateChannel(runner->address(),
                                  grpc::InsecureChannelCredentials());
    stub = catalog::v1::CatalogService::NewStub(channel);
  }
  ~CatalogServer() { runner->Shutdown(); }

  std::unique_ptr<redis::Client> redis;
  std::unique_ptr<catalog::RedisCatalogStore> catalog_store;
  std::unique_ptr<catalog::RedisSeatStore> seat_store;
  std::unique_ptr<catalog::CatalogServiceImpl> catalog_service;
  std::unique_ptr<catalog::SeatInventoryServiceImpl> seat_service;
  std::unique_ptr<ServerRunner> runner;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<catalog::v1::CatalogService::Stub> stub;
};

struct ApplicantServer {
  explicit ApplicantServer(std::shared_ptr<grpc::Channel> catalog)
      : service(std::move(catalog)) {
    runner = std::make_unique<ServerRunner>(LocalServer("applicant"));
    runner->AddService(&service,
                       applicant::v1::ApplicantService::service_full_name());
    if (!runner->Start().ok()) std::abort();
    channel = grpc::CreateChannel(runner->address(),
                                  grpc::InsecureChannelCredentials());
  }
  ~ApplicantServer() { runner->Shutdown(); }

  FakeApplicantService service;
  std::unique_ptr<ServerRunner> runner;
  std::shared_ptr<grpc::Channel> channel;
};

// One replica of the matching service.
struct MatchingInstance {
  MatchingInstance(const clerkship::testing::TestRedis& server,
                   std::shared_ptr<grpc::Channel> catalog_channel,
                   std::shared_ptr<grpc::Channel> applicant_channel,
                   const std::string& name, Clock* clock = Clock::Real()) {
    redis::ClientOptions ro = RedisOptionsFor(server);
    redis = redis::Client::Create(ro);
    redis->WaitHealthy(absl::Seconds(5));
    catalog =
        std::make_unique<CatalogClient>(catalog_channel, absl::Seconds(10));
    applicants =
        std::make_unique<ApplicantClient>(applicant_channel, absl::Seconds(10));
    CatalogCacheOptions co;
    co.redis = ro;
    co.block = absl::Milliseconds(100);
    cache = std::make_unique<CatalogCache>(catalog.get(), co);
    cache->Start();
    store = std::make_unique<RedisRoundStore>(redis.get());
    service = std::make_unique<MatchingServiceImpl>(
        store.get(), cache.get(), catalog.get(), applicants.get(), clock);
    claims = std::make_unique<RedisPromotionClaims>(
        redis.get(), absl::Seconds(30), absl::Hours(1));
    WaitlistPromoterOptions po;
    po.consumer = name;
    promoter = std::make_unique<WaitlistPromoter>(applicants.get(),
                                                  claims.get(), clock, po);
    events::ConsumerOptions eo;
    eo.stream = "cat:events";
    eo.group = "matching";
    eo.consumer = name;
    eo.dead_letter_stream = "mat:deadletter";
    eo.start_id = "0";
    eo.block = absl::Milliseconds(100);
    eo.claim_idle = absl::Seconds(1);
    eo.claim_interval = absl::Milliseconds(200);
    consumer = std::make_unique<events::StreamConsumer>(
        ro, eo, [p = promoter.get()](const events::StreamEntry& e) {
          return p->Handle(e);
        });
    consumer->Start();
    runner = std::make_unique<ServerRunner>(LocalServer("matching"));
    runner->AddService(service.get(), v1::MatchingService::service_full_name());
    runner->TrackRedisHealth(redis.get());
    if (!runner->Start().ok()) std::abort();
    stub = v1::MatchingService::NewStub(grpc::CreateChannel(
        runner->address(), grpc::InsecureChannelCredentials()));
  }
  ~MatchingInstance() {
    consumer->Stop();
    runner->Shutdown();
    cache->Stop();
  }

  std::unique_ptr<redis::Client> redis;
  std::unique_ptr<CatalogClient> catalog;
  std::unique_ptr<ApplicantClient> applicants;
  std::unique_ptr<CatalogCache> cache;
  std::unique_ptr<RedisRoundStore> store;
  std::unique_ptr<MatchingServiceImpl> service;
  std::unique_ptr<RedisPromotionClaims> claims;
  std::unique_ptr<WaitlistPromoter> promoter;
  std::unique_ptr<events::StreamConsumer> consumer;
  std::unique_ptr<ServerRunner> runner;
  std::unique_ptr<v1::MatchingService::Stub> stub;
};

// Polls `condition` until it holds or `timeout` passes.
template <typename Condition>
bool WaitUntil(Condition condition,
               absl::Duration timeout = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

}  // namespace clerkship::matching::testing
