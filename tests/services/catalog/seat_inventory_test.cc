// SeatInventoryService through a real in-process server and a real Redis: holds, confirms
// and releases, concurrency, idempotent retries, expiry (ManualClock), capacity rules and
// the seat.* events.

#include <gmock/gmock.h>

#include <atomic>
#include <set>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "tests/services/catalog/catalog_test_env.h"

namespace clerkship::catalog {
namespace {

using testing::ReasonOf;
using testing::SetIdentity;
using testing::ViolatedFields;

class SeatInventoryTest : public CatalogTestEnv {};

TEST_F(SeatInventoryTest, HoldConfirmReleaseMoveSeatsAndEmitEvents) {
  std::string session = PublishedSession(10);
  v1::SeatHold hold;
  ASSERT_TRUE(Hold(session, "applications/a1", absl::Hours(48), &hold).ok());
  EXPECT_EQ(hold.state(), v1::SeatHold::HELD);
  EXPECT_EQ(hold.session(), session);
  EXPECT_EQ(hold.holder(), "applications/a1");
  EXPECT_EQ(FromProtoTime(hold.expire_time()), clock_.Now() + absl::Hours(48));
  EXPECT_EQ(FromProtoTime(hold.hold_time()), clock_.Now());

  v1::Session s = GetSession(session);
  EXPECT_EQ(s.seats_held(), 1);
  EXPECT_EQ(s.seats_confirmed(), 0);
  EXPECT_EQ(s.seats_available(), 9);

  clock_.Advance(absl::Minutes(5));
  v1::SeatHold confirmed;
  ASSERT_TRUE(Confirm(session, "applications/a1", &confirmed).ok());
  EXPECT_EQ(confirmed.state(), v1::SeatHold::CONFIRMED);
  EXPECT_FALSE(confirmed.has_expire_time());
  EXPECT_EQ(FromProtoTime(confirmed.confirm_time()), clock_.Now());
  EXPECT_EQ(FromProtoTime(confirmed.hold_time()), FromProtoTime(hold.hold_time()));
  s = GetSession(session);
  EXPECT_EQ(s.seats_held(), 0);
  EXPECT_EQ(s.seats_confirmed(), 1);
  EXPECT_EQ(s.seats_available(), 9);

  // A confirmed seat never lapses.
  clock_.Advance(absl::Hours(24 * 20));
  ASSERT_TRUE(sweeper_->SweepOnce().ok());
  EXPECT_EQ(GetSession(session).seats_confirmed(), 1);

  v1::ReleaseSeatResponse released;
  ASSERT_TRUE(Release(session, "applications/a1", &released, "WITHDRAWN").ok());
  EXPECT_TRUE(released.released());
  EXPECT_EQ(released.seats_available(), 10);
  EXPECT_EQ(GetSession(session).seats_available(), 10);

  std::vector<events::v1::Event> seat_events;
  for (auto& e : Events()) {
    if (absl::StartsWith(e.type(), "seat.")) seat_events.push_back(e);
  }
  ASSERT_EQ(seat_events.size(), 3u);
  const auto& held = seat_events[0];
  EXPECT_EQ(held.type(), "seat.held");
  EXPECT_EQ(held.source(), "catalog");
  EXPECT_EQ(held.subject(), session);
  EXPECT_EQ(held.actor(), "services/applicant");
  EXPECT_EQ(held.id().size(), 36u);
  EXPECT_EQ(FromProtoTime(held.time()), TestEpoch());
  ASSERT_TRUE(held.has_seat_held());
  EXPECT_EQ(held.seat_held().session(), session);
  EXPECT_EQ(held.seat_held().rotation(), "rotations/rot");
  EXPECT_EQ(held.seat_held().site(), "sites/site");
  EXPECT_EQ(held.seat_held().holder(), "applications/a1");
  EXPECT_EQ(held.seat_held().seats_available(), 9);
  EXPECT_EQ(FromProtoTime(held.seat_held().expire_time()), FromProtoTime(hold.expire_time()));

  ASSERT_TRUE(seat_events[1].has_seat_confirmed());
  EXPECT_EQ(seat_events[1].seat_confirmed().holder(), "applications/a1");
  EXPECT_EQ(seat_events[1].seat_confirmed().seats_available(), 9);
  EXPECT_FALSE(seat_events[1].seat_confirmed().has_expire_time());

  ASSERT_TRUE(seat_events[2].has_seat_released());
  EXPECT_EQ(seat_events[2].seat_released().reason(), "WITHDRAWN");
  EXPECT_TRUE(seat_events[2].seat_released().was_confirmed());
  EXPECT_EQ(seat_events[2].seat_released().seats_available(), 10);
  std::set<std::string> ids;
  for (const auto& e : seat_events) ids.insert(e.id());
  EXPECT_EQ(ids.size(), 3u);
}

TEST_F(SeatInventoryTest, TwoHundredConcurrentHoldsTakeExactlyTheTenSeats) {
  std::string session = PublishedSession(10);
  constexpr int kCallers = 200;
  struct Call {
    grpc::ClientContext context;
    v1::HoldSeatRequest request;
    v1::SeatHold response;
  };
  std::vector<std::unique_ptr<Call>> calls;
  absl::Mutex mu;
  int finished = 0, ok = 0, exhausted = 0, other = 0;
  std::set<std::string> reasons;
  for (int i = 0; i < kCallers; ++i) {
    auto call = std::make_unique<Call>();
    SetIdentity(&call->context, "service", "services/applicant");
    call->request.set_session(session);
    call->request.set_holder(absl::StrCat("applications/app-", i));
    *call->request.mutable_expire_time() = ToProtoTime(clock_.Now() + absl::Hours(24));
    calls.push_back(std::move(call));
  }
  // All 200 are in flight at once.
  for (auto& call : calls) {
    seats_->async()->HoldSeat(&call->context, &call->request, &call->response,
                              [&](grpc::Status s) {
                                absl::MutexLock lock(&mu);
                                if (s.ok()) {
                                  ++ok;
                                } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
                                  ++exhausted;
                                  reasons.insert(ReasonOf(s));
                                } else {
                                  ++other;
                                }
                                ++finished;
                              });
  }
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](int* n) { return *n == kCallers; }, &finished),
                                    absl::Seconds(60)));
  }
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(exhausted, 190);
  EXPECT_EQ(other, 0);
  EXPECT_EQ(reasons, std::set<std::string>{"NO_SEATS_AVAILABLE"});

  v1::SeatInventory inventory = Inventory(session);
  EXPECT_EQ(inventory.seats_held(), 10);
  EXPECT_EQ(inventory.seats_available(), 0);
  EXPECT_EQ(inventory.holds_size(), 10);
  EXPECT_EQ(EventsOfType("seat.held").size(), 10u);
  EXPECT_EQ(GetSession(session).seats_available(), 0);
}

TEST_F(SeatInventoryTest, RetriedCallsChangeNothing) {
  std::string session = PublishedSession(3);
  v1::SeatHold first, again;
  ASSERT_TRUE(Hold(session, "applications/x", absl::Hours(10), &first).ok());
  clock_.Advance(absl::Minutes(1));
  // A retry, even with another expiry, returns the original hold.
  ASSERT_TRUE(Hold(session, "applications/x", absl::Hours(20), &again).ok());
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(Inventory(session).seats_held(), 1);
  EXPECT_EQ(EventsOfType("seat.held").size(), 1u);

  v1::SeatHold c1, c2, c3;
  ASSERT_TRUE(Confirm(session, "applications/x", &c1).ok());
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(Confirm(session, "applications/x", &c2).ok());
  EXPECT_EQ(c1.SerializeAsString(), c2.SerializeAsString());
  // Holding a confirmed seat again returns the confirmed seat.
  ASSERT_TRUE(Hold(session, "applications/x", absl::Hours(1), &c3).ok());
  EXPECT_EQ(c3.SerializeAsString(), c1.SerializeAsString());
  v1::SeatInventory inventory = Inventory(session);
  EXPECT_EQ(inventory.seats_confirmed(), 1);
  EXPECT_EQ(inventory.seats_held(), 0);
  EXPECT_EQ(inventory.seats_available(), 2);
  EXPECT_EQ(EventsOfType("seat.confirmed").size(), 1u);

  v1::ReleaseSeatResponse r1, r2;
  ASSERT_TRUE(Release(session, "applications/x", &r1).ok());
  ASSERT_TRUE(Release(session, "applications/x", &r2).ok());
  EXPECT_TRUE(r1.released());
  EXPECT_FALSE(r2.released());
  EXPECT_EQ(r2.seats_available(), 3);
  EXPECT_EQ(EventsOfType("seat.released").size(), 1u);
  // Releasing what was never held is fine too.
  v1::ReleaseSeatResponse r3;
  ASSERT_TRUE(Release(session, "applications/never", &r3).ok());
  EXPECT_FALSE(r3.released());
  EXPECT_EQ(EventsOfType("seat.released").size(), 1u);
}

TEST_F(SeatInventoryTest, ExpiredHoldsFreeTheirSeats) {
  std::string session = PublishedSession(2);
  ASSERT_TRUE(Hold(session, "applications/short", absl::Minutes(10)).ok());
  ASSERT_TRUE(Hold(session, "applications/long", absl::Hours(5)).ok());
  grpc::Status full = Hold(session, "applications/late");
  EXPECT_EQ(full.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  clock_.Advance(absl::Minutes(10));  // exactly at expiry: the hold no longer counts
  v1::Session s = GetSession(session);
  EXPECT_EQ(s.seats_held(), 1);
  EXPECT_EQ(s.seats_available(), 1);
  v1::SeatInventory inventory = Inventory(session);
  ASSERT_EQ(inventory.holds_size(), 1);
  EXPECT_EQ(inventory.holds(0).holder(), "applications/long");

  // The freed seat can be taken; the lapsed hold is swept in the same step.
  ASSERT_TRUE(Hold(session, "applications/late").ok());
  std::vector<events::v1::Event> expired = EventsOfType("seat.expired");
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].seat_expired().holder(), "applications/short");
  EXPECT_EQ(FromProtoTime(expired[0].seat_expired().expire_time()),
            TestEpoch() + absl::Minutes(10));
  EXPECT_EQ(expired[0].actor(), "services/catalog");
  EXPECT_EQ(expired[0].seat_expired().rotation(), "rotations/rot");

  grpc::Status late = Confirm(session, "applications/short");
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(late), "HOLD_EXPIRED");
  EXPECT_EQ(PreconditionsOf(late).size(), 1u);
  grpc::Status never = Confirm(session, "applications/stranger");
  EXPECT_EQ(never.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(never), "HOLD_NOT_FOUND");
  v1::ReleaseSeatResponse released;
  ASSERT_TRUE(Release(session, "applications/short", &released).ok());
  EXPECT_FALSE(released.released());

  // The expired holder can hold again if a seat frees up.
  clock_.Advance(absl::Hours(5));
  v1::SeatHold again;
  ASSERT_TRUE(Hold(session, "applications/short", absl::Hours(1), &again).ok());
  EXPECT_EQ(again.state(), v1::SeatHold::HELD);
  EXPECT_EQ(FromProtoTime(again.hold_time()), clock_.Now());
}

TEST_F(SeatInventoryTest, SweeperExpiresHoldsAndEmitsEventsOnce) {
  std::string session = PublishedSession(5);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Hold(session, absl::StrCat("applications/h", i), absl::Minutes(30 + i)).ok());
  }
  clock_.Advance(absl::Minutes(31));  // h0 and h1 have lapsed
  absl::StatusOr<int> swept = sweeper_->SweepOnce();
  ASSERT_TRUE(swept.ok());
  EXPECT_GE(*swept, 2);
  std::vector<events::v1::Event> expired = EventsOfType("seat.expired");
  ASSERT_EQ(expired.size(), 2u);
  std::set<std::string> holders;
  for (const auto& e : expired) holders.insert(e.seat_expired().holder());
  EXPECT_EQ(holders, (std::set<std::string>{"applications/h0", "applications/h1"}));
  // Sweeping again finds nothing new.
  ASSERT_TRUE(sweeper_->SweepOnce().ok());
  EXPECT_EQ(EventsOfType("seat.expired").size(), 2u);
  EXPECT_EQ(Inventory(session).seats_held(), 1);

  // The background thread does the same without being asked.
  auto fast = std::make_unique<SeatSweeper>(seat_store_, &clock_, absl::Milliseconds(10));
  fast->Start();
  clock_.Advance(absl::Minutes(5));
  for (int i = 0; i < 500 && EventsOfType("seat.expired").size() < 3; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  fast->Stop();
  EXPECT_EQ(EventsOfType("seat.expired").size(), 3u);
  EXPECT_EQ(Inventory(session).seats_available(), 5);
}

TEST_F(SeatInventoryTest, CapacityCannotDropBelowSeatsTaken) {
  std::string session = PublishedSession(5);
  ASSERT_TRUE(Hold(session, "applications/a", absl::Hours(1)).ok());
  ASSERT_TRUE(Hold(session, "applications/b", absl::Hours(100)).ok());
  ASSERT_TRUE(Hold(session, "applications/c", absl::Hours(100)).ok());
  ASSERT_TRUE(Confirm(session, "applications/c").ok());

  auto set_capacity = [&](int capacity, v1::Session* out) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::UpdateSessionRequest request;
    request.mutable_session()->set_name(session);
    request.mutable_session()->set_capacity(capacity);
    request.mutable_update_mask()->add_paths("capacity");
    return catalog_->UpdateSession(&context, request, out);
  };
  v1::Session out;
  grpc::Status s = set_capacity(2, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "CAPACITY_BELOW_SEATS_TAKEN");
  ASSERT_EQ(PreconditionsOf(s).size(), 1u);
  EXPECT_EQ(GetSession(session).capacity(), 5);

  ASSERT_TRUE(set_capacity(3, &out).ok());
  EXPECT_EQ(out.capacity(), 3);
  EXPECT_EQ(out.seats_available(), 0);
  EXPECT_EQ(Hold(session, "applications/d").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  // Once a's hold lapses it no longer counts.
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(set_capacity(2, &out).ok());
  EXPECT_EQ(out.seats_held(), 1);
  EXPECT_EQ(out.seats_confirmed(), 1);
  EXPECT_EQ(out.seats_available(), 0);

  std::vector<events::v1::Event> updated = EventsOfType("session.updated");
  ASSERT_EQ(updated.size(), 2u);
  EXPECT_EQ(updated[1].session_updated().capacity(), 2);
  EXPECT_EQ(updated[1].session_updated().seats_available(), 0);
  EXPECT_EQ(updated[0].session_updated().capacity(), 3);
  EXPECT_THAT(updated[0].session_updated().changed_fields(),
              ::testing::ElementsAre("capacity"));
}

TEST_F(SeatInventoryTest, OnlyServicesAndAdminsManageSeats) {
  std::string session = PublishedSession(5);
  v1::HoldSeatRequest request;
  request.set_session(session);
  request.set_holder("applications/a");
  *request.mutable_expire_time() = ToProtoTime(clock_.Now() + absl::Hours(1));
  v1::SeatHold out;
  {
    grpc::ClientContext anonymous;
    EXPECT_EQ(seats_->HoldSeat(&anonymous, request, &out).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext applicant;
    SetIdentity(&applicant, "applicant", "applicants/a");
    EXPECT_EQ(seats_->HoldSeat(&applicant, request, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext coordinator;
    SetIdentity(&coordinator, "coordinator", "coordinators/7", "sites/site");
    EXPECT_EQ(seats_->HoldSeat(&coordinator, request, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    grpc::ClientContext coordinator2;
    SetIdentity(&coordinator2, "coordinator", "coordinators/7", "sites/site");
    v1::GetSeatInventoryRequest get;
    get.set_session(session);
    v1::SeatInventory inventory;
    EXPECT_EQ(seats_->GetSeatInventory(&coordinator2, get, &inventory).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext admin;
    testing::AsAdmin(&admin);
    EXPECT_TRUE(seats_->HoldSeat(&admin, request, &out).ok());
  }
  EXPECT_EQ(EventsOfType("seat.held").size(), 1u);
}

TEST_F(SeatInventoryTest, EveryInvalidFieldIsNamed) {
  std::string session = PublishedSession(5);
  auto hold = [&](const v1::HoldSeatRequest& request) {
    grpc::ClientContext context;
    testing::AsService(&context);
    v1::SeatHold out;
    return seats_->HoldSeat(&context, request, &out);
  };
  auto valid = [&] {
    v1::HoldSeatRequest r;
    r.set_session(session);
    r.set_holder("applications/a");
    *r.mutable_expire_time() = ToProtoTime(clock_.Now() + absl::Hours(1));
    return r;
  };
  struct Case {
    std::string field;
    std::function<void(v1::HoldSeatRequest*)> spoil;
  };
  std::vector<Case> cases = {
      {"session", [](auto* r) { r->set_session(""); }},
      {"session", [](auto* r) { r->set_session("rotations/rot"); }},
      {"session", [](auto* r) { r->set_session("rotations/ROT/sessions/s1"); }},
      {"holder", [](auto* r) { r->set_holder(""); }},
      {"holder", [](auto* r) { r->set_holder("no-slash"); }},
      {"holder", [](auto* r) { r->set_holder("applications/has space"); }},
      {"holder", [](auto* r) { r->set_holder("applications/" + std::string(200, 'a')); }},
      {"expire_time", [](auto* r) { r->clear_expire_time(); }},
      {"expire_time", [&](auto* r) { *r->mutable_expire_time() = ToProtoTime(clock_.Now()); }},
      {"expire_time",
       [&](auto* r) {
         *r->mutable_expire_time() = ToProtoTime(clock_.Now() + absl::Hours(24 * 31));
       }},
      {"expire_time", [](auto* r) { r->mutable_expire_time()->set_nanos(-1); }},
  };
  for (const Case& c : cases) {
    v1::HoldSeatRequest request = valid();
    c.spoil(&request);
    grpc::Status s = hold(request);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(ViolatedFields(s), std::set<std::string>{c.field}) << s.error_message();
  }
  v1::HoldSeatRequest empty;
  EXPECT_EQ(ViolatedFields(hold(empty)),
            (std::set<std::string>{"session", "holder", "expire_time"}));

  grpc::ClientContext context;
  testing::AsService(&context);
  v1::ReleaseSeatRequest release;
  release.set_session(session);
  release.set_holder("applications/a");
  release.set_reason("changed my mind");
  v1::ReleaseSeatResponse out;
  EXPECT_EQ(ViolatedFields(seats_->ReleaseSeat(&context, release, &out)),
            std::set<std::string>{"reason"});
  EXPECT_TRUE(EventsOfType("seat.held").empty());
}

TEST_F(SeatInventoryTest, UnknownSessionsAndUnpublishedRotations) {
  std::string session = PublishedSession(5);
  grpc::Status missing = Hold("rotations/rot/sessions/nope", "applications/a");
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Release("rotations/nope/sessions/s1", "applications/a").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Confirm("rotations/rot/sessions/nope", "applications/a").error_code(),
            grpc::StatusCode::NOT_FOUND);

  MakeRotation("draft", ValidRotation("sites/site"));
  MakeSession("draft", "s1", ValidSession(40));
  grpc::Status draft = Hold("rotations/draft/sessions/s1", "applications/a");
  EXPECT_EQ(draft.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(draft), "ROTATION_NOT_PUBLISHED");

  // Archiving stops new holds but leaves existing seats alone.
  ASSERT_TRUE(Hold(session, "applications/kept").ok());
  grpc::ClientContext context;
  testing::AsAdmin(&context);
  v1::ArchiveRotationRequest archive;
  archive.set_name("rotations/rot");
  v1::Rotation archived;
  ASSERT_TRUE(catalog_->ArchiveRotation(&context, archive, &archived).ok());
  EXPECT_EQ(ReasonOf(Hold(session, "applications/new")), "ROTATION_NOT_PUBLISHED");
  EXPECT_TRUE(Hold(session, "applications/kept").ok());
  EXPECT_TRUE(Confirm(session, "applications/kept").ok());
  EXPECT_EQ(Inventory(session).seats_confirmed(), 1);
}

}  // namespace
}  // namespace clerkship::catalog
