#pragma once

// A test fixture around an in-process catalog server with a ManualClock the test moves, and
// helpers to build a catalog, take seats and read the events.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "clerkship/catalog/v1/seats.grpc.pb.h"
#include "clerkship/events/v1/events.pb.h"
#include "common/events/events.h"
#include "common/util/clock.h"
#include "common/util/ids.h"
#include "tests/services/catalog/in_process_catalog.h"
#include "tests/support/grpc_test_util.h"

namespace clerkship::catalog {

// The PreconditionFailure violations of a status.
inline std::vector<PreconditionViolation> PreconditionsOf(const grpc::Status& status) {
  return PreconditionViolationsOf(FromGrpcStatus(status));
}

// 15:00 UTC: the same calendar day in every US time zone from Hawaii to the East Coast.
inline absl::Time TestEpoch() {
  return absl::FromCivil(absl::CivilSecond(2027, 3, 1, 15, 0, 0), absl::UTCTimeZone());
}

// A date `days` after TestEpoch's date.
inline std::string DayFromEpoch(int days) {
  return absl::FormatCivilTime(absl::CivilDay(2027, 3, 1) + days);
}

class CatalogTestEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = InProcessCatalog::Start(&clock_);
    ASSERT_NE(server_, nullptr);
    redis_server_ = server_->redis_server.get();
    redis_ = server_->redis.get();
    seat_store_ = server_->seat_store.get();
    sweeper_ = server_->sweeper.get();
    channel_ = server_->channel;
    catalog_ = server_->catalog.get();
    seats_ = server_->seats.get();
  }

  void TearDown() override { server_.reset(); }

  // ---- Building blocks (as admin) ----

  static v1::Site SiteIn(const std::string& city, const std::string& state,
                         const std::string& tz = "America/New_York") {
    v1::Site s;
    s.set_display_name(absl::StrCat("General Hospital of ", city));
    s.set_city(city);
    s.set_us_state(state);
    s.set_time_zone(tz);
    return s;
  }

  // A valid rotation at `site` ("sites/x").
  static v1::Rotation ValidRotation(const std::string& site) {
    v1::Rotation r;
    r.set_site(site);
    r.set_title("Inpatient Internal Medicine Clerkship");
    r.set_description("Ward team, 20 patients, daily rounds.");
    r.set_specialty(type::v1::INTERNAL_MEDICINE);
    r.set_experience_type(type::v1::CLINICAL_ROTATION);
    r.set_setting(type::v1::INPATIENT);
    r.mutable_hands_on()->set_patient_contact(true);
    r.mutable_hands_on()->set_emr_access(true);
    r.mutable_hands_on()->set_note_writing(true);
    r.mutable_hands_on()->set_students_per_preceptor(2);
    r.set_duration_weeks(4);
    r.mutable_fees()->set_program_fee_cents(250000);
    r.mutable_fees()->set_application_fee_cents(10000);
    r.mutable_fees()->set_background_check_cents(5000);
    r.mutable_fees()->set_malpractice_insurance_cents(15000);
    r.mutable_fees()->set_housing_estimate_cents(120000);
    r.set_refund_policy(type::v1::FULL_REFUND_30_DAYS);
    r.set_lor_offered(true);
    r.mutable_eligibility()->add_allowed_training_stages(type::v1::STUDENT);
    r.mutable_eligibility()->add_allowed_training_stages(type::v1::GRADUATE);
    r.mutable_eligibility()->set_step1_pass_required(true);
    r.add_required_documents(type::v1::CV);
    r.add_required_documents(type::v1::PASSPORT);
    r.set_supervising_physician("Dr. Jane Roe, MD, FACP");
    return r;
  }

  static v1::Session ValidSession(int start_in_days, int capacity = 10) {
    v1::Session s;
    s.set_start_date(DayFromEpoch(start_in_days));
    s.set_end_date(DayFromEpoch(start_in_days + 27));
    s.set_application_deadline(DayFromEpoch(start_in_days - 14));
    s.set_capacity(capacity);
    return s;
  }

  v1::Site MakeSite(const std::string& id, const v1::Site& site) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::CreateSiteRequest request;
    *request.mutable_site() = site;
    request.set_site_id(id);
    v1::Site out;
    grpc::Status s = catalog_->CreateSite(&context, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::Rotation MakeRotation(const std::string& id, const v1::Rotation& rotation) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::CreateRotationRequest request;
    *request.mutable_rotation() = rotation;
    request.set_rotation_id(id);
    v1::Rotation out;
    grpc::Status s = catalog_->CreateRotation(&context, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::Session MakeSession(const std::string& rotation_id, const std::string& id,
                          const v1::Session& session) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::CreateSessionRequest request;
    request.set_parent(absl::StrCat("rotations/", rotation_id));
    *request.mutable_session() = session;
    request.set_session_id(id);
    v1::Session out;
    grpc::Status s = catalog_->CreateSession(&context, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  grpc::Status Publish(const std::string& rotation_id, v1::Rotation* out = nullptr) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::PublishRotationRequest request;
    request.set_name(absl::StrCat("rotations/", rotation_id));
    v1::Rotation ignored;
    return catalog_->PublishRotation(&context, request, out ? out : &ignored);
  }

  // A published rotation "rot" at site "site" with one session "s1" of `capacity` seats.
  std::string PublishedSession(int capacity) {
    MakeSite("site", SiteIn("Queens", "NY"));
    MakeRotation("rot", ValidRotation("sites/site"));
    MakeSession("rot", "s1", ValidSession(30, capacity));
    EXPECT_TRUE(Publish("rot").ok());
    return "rotations/rot/sessions/s1";
  }

  // ---- Seats (as the applicant service) ----

  grpc::Status Hold(const std::string& session, const std::string& holder,
                    absl::Duration ttl = absl::Hours(48), v1::SeatHold* out = nullptr) {
    grpc::ClientContext context;
    testing::SetIdentity(&context, "service", "services/applicant");
    v1::HoldSeatRequest request;
    request.set_session(session);
    request.set_holder(holder);
    *request.mutable_expire_time() = ToProtoTime(clock_.Now() + ttl);
    v1::SeatHold ignored;
    return seats_->HoldSeat(&context, request, out ? out : &ignored);
  }

  grpc::Status Confirm(const std::string& session, const std::string& holder,
                       v1::SeatHold* out = nullptr) {
    grpc::ClientContext context;
    testing::SetIdentity(&context, "service", "services/applicant");
    v1::ConfirmSeatRequest request;
    request.set_session(session);
    request.set_holder(holder);
    v1::SeatHold ignored;
    return seats_->ConfirmSeat(&context, request, out ? out : &ignored);
  }

  grpc::Status Release(const std::string& session, const std::string& holder,
                       v1::ReleaseSeatResponse* out = nullptr,
                       const std::string& reason = "DECLINED") {
    grpc::ClientContext context;
    testing::SetIdentity(&context, "service", "services/applicant");
    v1::ReleaseSeatRequest request;
    request.set_session(session);
    request.set_holder(holder);
    request.set_reason(reason);
    v1::ReleaseSeatResponse ignored;
    return seats_->ReleaseSeat(&context, request, out ? out : &ignored);
  }

  v1::SeatInventory Inventory(const std::string& session) {
    grpc::ClientContext context;
    testing::AsService(&context);
    v1::GetSeatInventoryRequest request;
    request.set_session(session);
    v1::SeatInventory out;
    grpc::Status s = seats_->GetSeatInventory(&context, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::Session GetSession(const std::string& name) {
    grpc::ClientContext context;
    v1::GetSessionRequest request;
    request.set_name(name);
    v1::Session out;
    grpc::Status s = catalog_->GetSession(&context, request, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  // ---- Events ----

  // Every event on cat:events, oldest first.
  std::vector<events::v1::Event> Events() {
    std::vector<events::v1::Event> out;
    absl::StatusOr<redis::Reply> reply = redis_->CommandSync({"XRANGE", "cat:events", "-", "+"});
    EXPECT_TRUE(reply.ok());
    if (!reply.ok()) return out;
    for (const events::StreamEntry& entry : events::ParseEntries(*reply)) {
      events::v1::Event e;
      EXPECT_TRUE(e.ParseFromString(entry.data)) << entry.type;
      EXPECT_EQ(e.type(), entry.type);
      out.push_back(std::move(e));
    }
    return out;
  }

  std::vector<events::v1::Event> EventsOfType(const std::string& type) {
    std::vector<events::v1::Event> out;
    for (events::v1::Event& e : Events()) {
      if (e.type() == type) out.push_back(std::move(e));
    }
    return out;
  }

  ManualClock clock_{TestEpoch()};
  std::unique_ptr<InProcessCatalog> server_;
  testing::TestRedis* redis_server_ = nullptr;
  redis::Client* redis_ = nullptr;
  RedisSeatStore* seat_store_ = nullptr;
  SeatSweeper* sweeper_ = nullptr;
  std::shared_ptr<grpc::Channel> channel_;
  v1::CatalogService::Stub* catalog_ = nullptr;
  v1::SeatInventoryService::Stub* seats_ = nullptr;
};

}  // namespace clerkship::catalog
