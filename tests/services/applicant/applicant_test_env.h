#pragma once

// The applicant service as it runs, in-process on port 0: a real redis-server, a real catalog
// (CatalogService + SeatInventoryService from catalog_lib, on its own port 0), and the
// applicant service calling it over gRPC. One ManualClock drives both services, so offers,
// holds and deadlines move only when a test says so. The applicant's store and catalog client
// are wrapped in decorators that can fail a chosen step, to play a crash between two steps.

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "clerkship/applicant/v1/applicant.grpc.pb.h"
#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "clerkship/catalog/v1/seats.grpc.pb.h"
#include "clerkship/events/v1/events.pb.h"
#include "common/events/events.h"
#include "common/server/server_runner.h"
#include "common/util/clock.h"
#include "common/util/ids.h"
#include "services/applicant/applicant_profiles.h"
#include "services/applicant/applicant_service.h"
#include "services/applicant/application_lifecycle.h"
#include "services/applicant/catalog_client.h"
#include "services/applicant/offer_expiry_scheduler.h"
#include "services/applicant/redis_applicant_store.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/redis_catalog_store.h"
#include "services/catalog/redis_seat_store.h"
#include "services/catalog/seat_service.h"
#include "tests/support/grpc_test_util.h"
#include "tests/support/test_redis.h"

namespace clerkship::applicant {

namespace type = clerkship::type::v1;
using App = v1::Application;

// Fails chosen application writes, as if the process died right before them.
class FaultInjectingStore : public ForwardingApplicantStore {
 public:
  using ForwardingApplicantStore::ForwardingApplicantStore;

  // Application writes into this state fail with UNAVAILABLE (STATE_UNSPECIFIED = none).
  std::atomic<int> fail_writes_to{App::STATE_UNSPECIFIED};
  std::atomic<int> failed_writes{0};

  void WriteApplication(const ApplicationWrite& write, Done<StoredApplication> done) override {
    if (fail_writes_to != App::STATE_UNSPECIFIED &&
        write.next.application.state() == fail_writes_to) {
      ++failed_writes;
      return done(absl::UnavailableError("injected: the process died before the state write"));
    }
    inner_->WriteApplication(write, std::move(done));
  }
};

// Fails seat releases, as if the catalog were down when the applicant service called it.
class FaultInjectingCatalog : public CatalogClient {
 public:
  explicit FaultInjectingCatalog(CatalogClient* inner) : inner_(inner) {}
  std::atomic<bool> fail_releases{false};
  std::atomic<int> releases{0};

  void GetRotation(const std::string& n, Done<catalog::v1::Rotation> d) override {
    inner_->GetRotation(n, std::move(d));
  }
  void GetSession(const std::string& n, Done<catalog::v1::Session> d) override {
    inner_->GetSession(n, std::move(d));
  }
  void GetSite(const std::string& n, Done<catalog::v1::Site> d) override {
    inner_->GetSite(n, std::move(d));
  }
  void HoldSeat(const std::string& s, const std::string& h, absl::Time t,
                Done<catalog::v1::SeatHold> d) override {
    inner_->HoldSeat(s, h, t, std::move(d));
  }
  void ConfirmSeat(const std::string& s, const std::string& h,
                   Done<catalog::v1::SeatHold> d) override {
    inner_->ConfirmSeat(s, h, std::move(d));
  }
  void ReleaseSeat(const std::string& s, const std::string& h, const std::string& r,
                   Done<catalog::v1::ReleaseSeatResponse> d) override {
    ++releases;
    if (fail_releases) return d(absl::UnavailableError("injected: catalog unavailable"));
    inner_->ReleaseSeat(s, h, r, std::move(d));
  }

 private:
  CatalogClient* inner_;
};

// 15:00 UTC, 2027-03-01: the same calendar day everywhere from Hawaii to New York.
inline absl::Time TestEpoch() {
  return absl::FromCivil(absl::CivilSecond(2027, 3, 1, 15, 0, 0), absl::UTCTimeZone());
}
inline std::string Day(int days_from_epoch) {
  return absl::FormatCivilTime(absl::CivilDay(2027, 3, 1) + days_from_epoch);
}

class ApplicantTestEnv : public ::testing::Test {
 protected:
  ApplicantTestEnv() : clock_(TestEpoch()) {}

  void SetUp() override {
    redis_server_ = testing::TestRedis::Start();
    ASSERT_NE(redis_server_, nullptr);
    redis::ClientOptions ro;
    ro.address = redis_server_->address();
    ro.health_check_interval = absl::Milliseconds(100);
    ro.command_timeout = absl::Seconds(5);
    redis_ = redis::Client::Create(ro);
    ASSERT_TRUE(redis_->WaitHealthy(absl::Seconds(5)));

    // The catalog, as its own server.
    catalog_store_ = std::make_unique<catalog::RedisCatalogStore>(redis_.get());
    seat_store_ = std::make_unique<catalog::RedisSeatStore>(redis_.get());
    catalog_service_ = std::make_unique<catalog::CatalogServiceImpl>(catalog_store_.get(), &clock_);
    seat_service_ = std::make_unique<catalog::SeatInventoryServiceImpl>(seat_store_.get(), &clock_);
    ServerOptions co;
    co.service_name = "catalog";
    co.listen_address = "127.0.0.1:0";
    co.drain_period = absl::ZeroDuration();
    catalog_runner_ = std::make_unique<ServerRunner>(co);
    catalog_runner_->AddService(catalog_service_.get(),
                                catalog::v1::CatalogService::service_full_name());
    catalog_runner_->AddService(seat_service_.get(),
                                catalog::v1::SeatInventoryService::service_full_name());
    ASSERT_TRUE(catalog_runner_->Start().ok());
    auto catalog_channel =
        grpc::CreateChannel(catalog_runner_->address(), grpc::InsecureChannelCredentials());
    catalog_ = catalog::v1::CatalogService::NewStub(catalog_channel);
    seats_ = catalog::v1::SeatInventoryService::NewStub(catalog_channel);

    // The applicant service, calling the catalog over gRPC.
    store_ = std::make_unique<RedisApplicantStore>(redis_.get());
    faulty_store_ = std::make_unique<FaultInjectingStore>(store_.get());
    grpc_catalog_ = std::make_unique<GrpcCatalogClient>(catalog_channel, "services/applicant");
    faulty_catalog_ = std::make_unique<FaultInjectingCatalog>(grpc_catalog_.get());
    lifecycle_options_.offer_ttl = absl::Hours(72);
    lifecycle_options_.hold_grace = absl::Minutes(5);
    lifecycle_options_.release_retry = absl::Seconds(30);
    lifecycle_ = std::make_unique<ApplicationLifecycle>(faulty_store_.get(), faulty_catalog_.get(),
                                                        &clock_, lifecycle_options_);
    profiles_ =
        std::make_unique<ApplicantProfiles>(faulty_store_.get(), faulty_catalog_.get(), &clock_);
    service_ = std::make_unique<ApplicantServiceImpl>(profiles_.get(), lifecycle_.get());
    scheduler_ =
        std::make_unique<OfferExpiryScheduler>(faulty_store_.get(), lifecycle_.get(), &clock_);
    ServerOptions ao;
    ao.service_name = "applicant";
    ao.listen_address = "127.0.0.1:0";
    ao.drain_period = absl::ZeroDuration();
    // Every call logged, so that the tests that look for personal data in the logs see
    // the access log of successful calls too.
    ao.access_log.mode = AccessLogPolicy::Mode::kAll;
    applicant_runner_ = std::make_unique<ServerRunner>(ao);
    applicant_runner_->AddService(service_.get(), v1::ApplicantService::service_full_name());
    applicant_runner_->TrackRedisHealth(redis_.get());
    ASSERT_TRUE(applicant_runner_->Start().ok());
    channel_ =
        grpc::CreateChannel(applicant_runner_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::ApplicantService::NewStub(channel_);
  }

  void TearDown() override {
    if (scheduler_) scheduler_->Stop();
    if (applicant_runner_) applicant_runner_->Shutdown();
    if (catalog_runner_) catalog_runner_->Shutdown();
  }

  // ---- Who is calling ----

  struct Caller {
    std::string role;
    std::string principal;
    std::string site;
  };
  static Caller Applicant(const std::string& id) { return {"applicant", "applicants/" + id, ""}; }
  static Caller Coordinator(const std::string& site_id) {
    return {"coordinator", "coordinators/c-" + site_id, "sites/" + site_id};
  }
  static Caller Admin() { return {"admin", "admins/root", ""}; }
  static Caller Service() { return {"service", "services/matching", ""}; }
  static Caller Nobody() { return {"", "", ""}; }

  static void Apply(const Caller& who, grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (who.role.empty()) return;
    testing::SetIdentity(context, who.role, who.principal, who.site);
  }

  // Calls one RPC of the applicant service as `who`: Call(who, &Stub::GetApplication, req, &out).
  template <typename Method, typename Request, typename Response>
  grpc::Status Call(const Caller& who, Method method, const Request& request, Response* out) {
    grpc::ClientContext context;
    Apply(who, &context);
    return ((*stub_).*method)(&context, request, out);
  }

  // ---- Catalog (as admin) ----

  void MakeSite(const std::string& id, const std::string& tz = "America/New_York") {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    catalog::v1::CreateSiteRequest request;
    request.set_site_id(id);
    auto* s = request.mutable_site();
    s->set_display_name(absl::StrCat("Hospital ", id));
    s->set_city("Queens");
    s->set_us_state("NY");
    s->set_time_zone(tz);
    catalog::v1::Site out;
    grpc::Status status = catalog_->CreateSite(&context, request, &out);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // A hands-on internal-medicine clerkship that wants a CV and a passport.
  static catalog::v1::Rotation ClinicalRotation(const std::string& site_id) {
    catalog::v1::Rotation r;
    r.set_site("sites/" + site_id);
    r.set_title("Inpatient Internal Medicine Clerkship");
    r.set_specialty(type::INTERNAL_MEDICINE);
    r.set_experience_type(type::CLINICAL_ROTATION);
    r.set_setting(type::INPATIENT);
    r.mutable_hands_on()->set_patient_contact(true);
    r.mutable_hands_on()->set_emr_access(true);
    r.set_duration_weeks(4);
    r.mutable_fees()->set_program_fee_cents(250000);
    r.set_refund_policy(type::FULL_REFUND_30_DAYS);
    r.set_lor_offered(true);
    r.mutable_eligibility()->set_step1_pass_required(true);
    r.add_required_documents(type::CV);
    r.add_required_documents(type::PASSPORT);
    r.set_supervising_physician("Dr. Jane Roe, MD");
    return r;
  }

  // Creates the rotation with one session (start in `start_in_days`, deadline 14 days before,
  // four weeks long) and publishes it unless told not to. Returns the session name.
  std::string MakeRotation(const std::string& id, const catalog::v1::Rotation& rotation,
                           int capacity = 10, int start_in_days = 40, bool publish = true) {
    {
      grpc::ClientContext context;
      testing::AsAdmin(&context);
      catalog::v1::CreateRotationRequest request;
      *request.mutable_rotation() = rotation;
      request.set_rotation_id(id);
      catalog::v1::Rotation out;
      grpc::Status s = catalog_->CreateRotation(&context, request, &out);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    std::string session = AddSession(id, "s1", capacity, start_in_days);
    if (publish) {
      grpc::ClientContext context;
      testing::AsAdmin(&context);
      catalog::v1::PublishRotationRequest request;
      request.set_name("rotations/" + id);
      catalog::v1::Rotation out;
      grpc::Status s = catalog_->PublishRotation(&context, request, &out);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return session;
  }

  std::string AddSession(const std::string& rotation_id, const std::string& session_id,
                         int capacity, int start_in_days) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    catalog::v1::CreateSessionRequest request;
    request.set_parent("rotations/" + rotation_id);
    request.set_session_id(session_id);
    auto* s = request.mutable_session();
    s->set_start_date(Day(start_in_days));
    s->set_end_date(Day(start_in_days + 27));
    s->set_application_deadline(Day(start_in_days - 14));
    s->set_capacity(capacity);
    catalog::v1::Session out;
    grpc::Status status = catalog_->CreateSession(&context, request, &out);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return absl::StrCat("rotations/", rotation_id, "/sessions/", session_id);
  }

  catalog::v1::SeatInventory Seats(const std::string& session) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    catalog::v1::GetSeatInventoryRequest request;
    request.set_session(session);
    catalog::v1::SeatInventory out;
    grpc::Status s = seats_->GetSeatInventory(&context, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // ---- Applicants ----

  // A J-1 graduate (2025) who passed Step 1, ECFMG certified.
  static v1::Applicant Graduate() {
    v1::Applicant a;
    a.set_given_name("Asha");
    a.set_family_name("Rao");
    a.set_email("asha.rao@example.org");
    a.set_training_stage(type::GRADUATE);
    a.set_medical_school("Grant Medical College");
    a.set_school_country("IN");
    a.set_graduation_year(2025);
    a.set_step1_status(type::STEP1_PASSED);
    a.set_step2ck_score(241);
    a.set_ecfmg_certified(true);
    a.set_visa_status(type::J1);
    a.add_specialty_interests(type::INTERNAL_MEDICINE);
    a.set_time_zone("Asia/Kolkata");
    return a;
  }

  v1::Applicant MakeApplicant(const std::string& id, v1::Applicant profile = Graduate()) {
    profile.set_email(absl::StrCat(id, "@example.org"));
    v1::CreateApplicantRequest request;
    *request.mutable_applicant() = profile;
    v1::Applicant out;
    grpc::Status s =
        Call(Applicant(id), &v1::ApplicantService::Stub::CreateApplicant, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::Document AddDocument(const std::string& applicant_id, type::DocumentKind kind,
                           const std::string& expiry = "") {
    v1::AddDocumentRequest request;
    request.set_parent("applicants/" + applicant_id);
    auto* d = request.mutable_document();
    d->set_kind(kind);
    d->set_display_name(absl::StrCat(type::DocumentKind_Name(kind), " of ", applicant_id));
    d->set_uri(absl::StrCat("https://files.example.org/", applicant_id, "/", kind));
    d->set_sha256(std::string(64, 'a'));
    d->set_issue_date(Day(-100));
    d->set_expiry_date(expiry);
    v1::Document out;
    grpc::Status s =
        Call(Applicant(applicant_id), &v1::ApplicantService::Stub::AddDocument, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::Document Verify(const std::string& document_name, v1::Document::State verdict,
                      const std::string& note = "") {
    v1::VerifyDocumentRequest request;
    request.set_name(document_name);
    request.set_verdict(verdict);
    request.set_note(note);
    v1::Document out;
    grpc::Status s = Call(Admin(), &v1::ApplicantService::Stub::VerifyDocument, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // An applicant with the CV and passport the default rotation wants.
  void MakeReadyApplicant(const std::string& id) {
    MakeApplicant(id);
    AddDocument(id, type::CV);
    AddDocument(id, type::PASSPORT, Day(3000));
  }

  // ---- Applications ----

  grpc::Status Submit(const std::string& applicant_id, const std::string& session, App* out,
                      const std::string& request_id = "") {
    v1::SubmitApplicationRequest request;
    request.set_applicant("applicants/" + applicant_id);
    request.set_session(session);
    request.set_statement("I want to learn inpatient medicine.");
    request.set_request_id(request_id);
    return Call(Applicant(applicant_id), &v1::ApplicantService::Stub::SubmitApplication, request,
                out);
  }

  App MustSubmit(const std::string& applicant_id, const std::string& session) {
    App out;
    grpc::Status s = Submit(applicant_id, session, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  grpc::Status Offer(const Caller& who, const std::string& name, App* out,
                     absl::Duration lifetime = absl::ZeroDuration()) {
    v1::OfferApplicationRequest request;
    request.set_name(name);
    request.set_reason("strong application");
    if (lifetime > absl::ZeroDuration()) {
      *request.mutable_offer_expire_time() = ToProtoTime(clock_.Now() + lifetime);
    }
    return Call(who, &v1::ApplicantService::Stub::OfferApplication, request, out);
  }

  grpc::Status Accept(const Caller& who, const std::string& name, App* out) {
    v1::AcceptOfferRequest request;
    request.set_name(name);
    return Call(who, &v1::ApplicantService::Stub::AcceptOffer, request, out);
  }

  App Get(const std::string& name) {
    v1::GetApplicationRequest request;
    request.set_name(name);
    App out;
    grpc::Status s = Call(Admin(), &v1::ApplicantService::Stub::GetApplication, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // Every event on app:events, oldest first.
  std::vector<events::v1::Event> Events() {
    absl::StatusOr<redis::Reply> reply =
        redis_->CommandSync({"XRANGE", RedisApplicantStore::kEventStream, "-", "+"});
    std::vector<events::v1::Event> out;
    if (!reply.ok()) return out;
    for (const events::StreamEntry& entry : events::ParseEntries(*reply)) {
      events::v1::Event e;
      EXPECT_TRUE(e.ParseFromString(entry.data));
      EXPECT_EQ(entry.type, e.type());
      out.push_back(std::move(e));
    }
    return out;
  }

  std::vector<std::string> EventTypesFor(const std::string& subject) {
    std::vector<std::string> out;
    for (const auto& e : Events()) {
      if (e.subject() == subject) out.push_back(e.type());
    }
    return out;
  }

  ManualClock clock_;
  LifecycleOptions lifecycle_options_;
  std::unique_ptr<testing::TestRedis> redis_server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<catalog::RedisCatalogStore> catalog_store_;
  std::unique_ptr<catalog::RedisSeatStore> seat_store_;
  std::unique_ptr<catalog::CatalogServiceImpl> catalog_service_;
  std::unique_ptr<catalog::SeatInventoryServiceImpl> seat_service_;
  std::unique_ptr<ServerRunner> catalog_runner_;
  std::unique_ptr<catalog::v1::CatalogService::Stub> catalog_;
  std::unique_ptr<catalog::v1::SeatInventoryService::Stub> seats_;
  std::unique_ptr<RedisApplicantStore> store_;
  std::unique_ptr<FaultInjectingStore> faulty_store_;
  std::unique_ptr<GrpcCatalogClient> grpc_catalog_;
  std::unique_ptr<FaultInjectingCatalog> faulty_catalog_;
  std::unique_ptr<ApplicationLifecycle> lifecycle_;
  std::unique_ptr<ApplicantProfiles> profiles_;
  std::unique_ptr<ApplicantServiceImpl> service_;
  std::unique_ptr<OfferExpiryScheduler> scheduler_;
  std::unique_ptr<ServerRunner> applicant_runner_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ApplicantService::Stub> stub_;
};

}  // namespace clerkship::applicant
