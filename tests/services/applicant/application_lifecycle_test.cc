// Applications through the real applicant service, a real catalog and a real Redis: the whole
// lifecycle, every illegal transition, the waitlist, seats across the two services (including
// crashes between the seat step and the state step), offer expiry on a ManualClock, the
// release outbox, matched offers and listing.

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/status/validation.h"
#include "tests/services/applicant/applicant_test_env.h"

namespace clerkship::applicant {
namespace {

using testing::ReasonOf;
using Stub = v1::ApplicantService::Stub;

std::vector<PreconditionViolation> PreconditionsOf(const grpc::Status& status) {
  return PreconditionViolationsOf(FromGrpcStatus(status));
}

class ApplicationLifecycleTest : public ApplicantTestEnv {
 protected:
  void SetUp() override {
    ApplicantTestEnv::SetUp();
    MakeSite("mercy");
    session_ = MakeRotation("im", ClinicalRotation("mercy"));
  }

  grpc::Status Waitlist(const std::string& name, int position, App* out) {
    v1::WaitlistApplicationRequest request;
    request.set_name(name);
    request.set_position(position);
    request.set_reason("full for now");
    return Call(Coordinator("mercy"), &Stub::WaitlistApplication, request, out);
  }
  grpc::Status Reject(const std::string& name, App* out) {
    v1::RejectApplicationRequest request;
    request.set_name(name);
    request.set_reason("not a fit");
    return Call(Coordinator("mercy"), &Stub::RejectApplication, request, out);
  }
  grpc::Status Complete(const std::string& name, int weeks, type::LorStatus lor, App* out,
                        const std::string& eras = "") {
    v1::CompleteApplicationRequest request;
    request.set_name(name);
    request.set_weeks_completed(weeks);
    request.set_evaluation_summary("Excellent clinical reasoning.");
    request.set_lor_status(lor);
    request.set_eras_letter_id(eras);
    return Call(Coordinator("mercy"), &Stub::CompleteApplication, request, out);
  }
  grpc::Status Decline(const std::string& applicant, const std::string& name, App* out) {
    v1::DeclineOfferRequest request;
    request.set_name(name);
    request.set_reason("found another rotation");
    return Call(Applicant(applicant), &Stub::DeclineOffer, request, out);
  }
  grpc::Status Withdraw(const std::string& applicant, const std::string& name, App* out) {
    v1::WithdrawApplicationRequest request;
    request.set_name(name);
    return Call(Applicant(applicant), &Stub::WithdrawApplication, request, out);
  }
  grpc::Status Cancel(const std::string& name, App* out,
                      const std::string& reason = "site closed") {
    v1::CancelApplicationRequest request;
    request.set_name(name);
    request.set_reason(reason);
    return Call(Admin(), &Stub::CancelApplication, request, out);
  }

  // A ready applicant `id` with an application in `state` (any state but EXPIRED, which
  // needs the clock moved).
  App ApplicationIn(const std::string& id, App::State state) {
    MakeReadyApplicant(id);
    App app = MustSubmit(id, session_);
    App out;
    auto ok = [](const grpc::Status& s) { EXPECT_TRUE(s.ok()) << s.error_message(); };
    switch (state) {
      case App::SUBMITTED:
        return app;
      case App::WAITLISTED:
        ok(Waitlist(app.name(), 0, &out));
        return out;
      case App::REJECTED:
        ok(Reject(app.name(), &out));
        return out;
      case App::WITHDRAWN:
        ok(Withdraw(id, app.name(), &out));
        return out;
      default:
        break;
    }
    ok(Offer(Coordinator("mercy"), app.name(), &out));
    if (state == App::OFFERED) return out;
    if (state == App::DECLINED) {
      ok(Decline(id, app.name(), &out));
      return out;
    }
    ok(Accept(Applicant(id), app.name(), &out));
    if (state == App::ACCEPTED) return out;
    if (state == App::CANCELLED) {
      ok(Cancel(app.name(), &out));
      return out;
    }
    ok(Complete(app.name(), 4, type::LOR_NONE, &out));
    return out;
  }

  std::string session_;
};

TEST_F(ApplicationLifecycleTest, WholeLifecycleFromSubmissionToExperienceRecord) {
  MakeReadyApplicant("a1");
  App submitted = MustSubmit("a1", session_);
  EXPECT_EQ(submitted.state(), App::SUBMITTED);
  EXPECT_EQ(submitted.applicant(), "applicants/a1");
  EXPECT_EQ(submitted.session(), session_);
  EXPECT_EQ(submitted.rotation(), "rotations/im");
  EXPECT_EQ(submitted.site(), "sites/mercy");
  EXPECT_EQ(submitted.rotation_title(), "Inpatient Internal Medicine Clerkship");
  EXPECT_EQ(submitted.site_display_name(), "Hospital mercy");
  EXPECT_EQ(submitted.session_start_date(), Day(40));
  EXPECT_EQ(submitted.session_end_date(), Day(67));
  EXPECT_EQ(submitted.statement(), "I want to learn inpatient medicine.");
  ASSERT_EQ(submitted.history_size(), 1);
  EXPECT_EQ(submitted.history(0).from_state(), App::STATE_UNSPECIFIED);
  EXPECT_EQ(submitted.history(0).to_state(), App::SUBMITTED);
  EXPECT_EQ(submitted.history(0).actor(), "applicants/a1");
  EXPECT_EQ(FromProtoTime(submitted.history(0).time()), clock_.Now());
  EXPECT_FALSE(submitted.etag().empty());

  clock_.Advance(absl::Hours(1));
  App waitlisted;
  ASSERT_TRUE(Waitlist(submitted.name(), 0, &waitlisted).ok());
  EXPECT_EQ(waitlisted.state(), App::WAITLISTED);
  EXPECT_EQ(waitlisted.waitlist_position(), 1);
  EXPECT_EQ(FromProtoTime(waitlisted.waitlist_time()), clock_.Now());
  EXPECT_NE(waitlisted.etag(), submitted.etag());

  clock_.Advance(absl::Hours(1));
  App offered;
  ASSERT_TRUE(Offer(Coordinator("mercy"), submitted.name(), &offered).ok());
  EXPECT_EQ(offered.state(), App::OFFERED);
  EXPECT_EQ(offered.waitlist_position(), 0);
  EXPECT_EQ(FromProtoTime(offered.offer_expire_time()), clock_.Now() + absl::Hours(72));
  catalog::v1::SeatInventory seats = Seats(session_);
  EXPECT_EQ(seats.seats_held(), 1);
  EXPECT_EQ(seats.seats_available(), 9);
  ASSERT_EQ(seats.holds_size(), 1);
  EXPECT_EQ(seats.holds(0).holder(), submitted.name());
  // The hold outlives the offer by the grace period.
  EXPECT_EQ(FromProtoTime(seats.holds(0).expire_time()),
            clock_.Now() + absl::Hours(72) + absl::Minutes(5));

  clock_.Advance(absl::Hours(1));
  App accepted;
  ASSERT_TRUE(Accept(Applicant("a1"), submitted.name(), &accepted).ok());
  EXPECT_EQ(accepted.state(), App::ACCEPTED);
  seats = Seats(session_);
  EXPECT_EQ(seats.seats_held(), 0);
  EXPECT_EQ(seats.seats_confirmed(), 1);
  EXPECT_EQ(seats.seats_available(), 9);

  clock_.Advance(absl::Hours(24 * 60));
  App completed;
  ASSERT_TRUE(Complete(submitted.name(), 4, type::LOR_COMMITTED, &completed).ok());
  EXPECT_EQ(completed.state(), App::COMPLETED);
  EXPECT_EQ(completed.completion().weeks_completed(), 4);
  EXPECT_EQ(completed.completion().lor_status(), type::LOR_COMMITTED);
  EXPECT_EQ(completed.completion().evaluation_summary(), "Excellent clinical reasoning.");
  EXPECT_EQ(FromProtoTime(completed.completion().complete_time()), clock_.Now());
  // Completion keeps the seat: the rotation was done in it.
  EXPECT_EQ(Seats(session_).seats_confirmed(), 1);

  // The whole story is in the history, with who and why.
  ASSERT_EQ(completed.history_size(), 5);
  std::vector<std::pair<App::State, std::string>> steps;
  for (const auto& t : completed.history()) steps.push_back({t.to_state(), t.actor()});
  EXPECT_EQ(steps, (std::vector<std::pair<App::State, std::string>>{
                       {App::SUBMITTED, "applicants/a1"},
                       {App::WAITLISTED, "coordinators/c-mercy"},
                       {App::OFFERED, "coordinators/c-mercy"},
                       {App::ACCEPTED, "applicants/a1"},
                       {App::COMPLETED, "coordinators/c-mercy"}}));
  EXPECT_EQ(completed.history(1).reason(), "full for now");
  EXPECT_EQ(completed.history(2).reason(), "strong application");
  for (int i = 1; i < completed.history_size(); ++i) {
    EXPECT_EQ(completed.history(i).from_state(), completed.history(i - 1).to_state());
  }

  // Completing again updates the letter, without a new transition or event.
  App updated;
  ASSERT_TRUE(Complete(submitted.name(), 4, type::LOR_SUBMITTED, &updated, "ERAS-77").ok());
  EXPECT_EQ(updated.history_size(), 5);
  EXPECT_EQ(updated.completion().lor_status(), type::LOR_SUBMITTED);
  EXPECT_EQ(updated.completion().eras_letter_id(), "ERAS-77");

  v1::GetExperienceRecordRequest request;
  request.set_name("applicants/a1/experience");
  v1::ExperienceRecord record;
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::GetExperienceRecord, request, &record).ok());
  EXPECT_EQ(record.name(), "applicants/a1/experience");
  ASSERT_EQ(record.entries_size(), 1);
  const v1::ExperienceEntry& entry = record.entries(0);
  EXPECT_EQ(entry.application(), submitted.name());
  EXPECT_EQ(entry.site_display_name(), "Hospital mercy");
  EXPECT_EQ(entry.city(), "Queens");
  EXPECT_EQ(entry.us_state(), "NY");
  EXPECT_EQ(entry.specialty(), type::INTERNAL_MEDICINE);
  EXPECT_EQ(entry.experience_type(), type::CLINICAL_ROTATION);
  EXPECT_EQ(entry.setting(), type::INPATIENT);
  EXPECT_TRUE(entry.hands_on());
  EXPECT_EQ(entry.start_date(), Day(40));
  EXPECT_EQ(entry.end_date(), Day(67));
  EXPECT_EQ(entry.weeks(), 4);
  EXPECT_EQ(entry.supervising_physician(), "Dr. Jane Roe, MD");
  EXPECT_EQ(entry.lor_status(), type::LOR_SUBMITTED);
  EXPECT_EQ(entry.eras_letter_id(), "ERAS-77");
  EXPECT_EQ(record.total_weeks(), 4);
  EXPECT_EQ(record.weeks_hands_on(), 4);
  EXPECT_EQ(record.weeks_observational(), 0);
  EXPECT_EQ(record.us_letters(), 1);
  EXPECT_EQ(record.us_letters_pending(), 0);

  // One event per transition, written with it.
  EXPECT_EQ(EventTypesFor(submitted.name()),
            (std::vector<std::string>{"application.submitted", "application.waitlisted",
                                      "application.offered", "application.accepted",
                                      "application.completed"}));
  std::map<std::string, events::v1::Event> by_type;
  for (const auto& e : Events()) by_type[e.type()] = e;
  const auto& offered_event = by_type["application.offered"];
  EXPECT_EQ(offered_event.source(), "applicant");
  EXPECT_EQ(offered_event.actor(), "coordinators/c-mercy");
  const auto& t = offered_event.application_transitioned();
  EXPECT_EQ(t.application(), submitted.name());
  EXPECT_EQ(t.applicant(), "applicants/a1");
  EXPECT_EQ(t.session(), session_);
  EXPECT_EQ(t.rotation(), "rotations/im");
  EXPECT_EQ(t.site(), "sites/mercy");
  EXPECT_EQ(t.from_state(), "WAITLISTED");
  EXPECT_EQ(t.to_state(), "OFFERED");
  EXPECT_EQ(t.reason(), "strong application");
  EXPECT_EQ(FromProtoTime(t.offer_expire_time()), FromProtoTime(offered.offer_expire_time()));
  EXPECT_EQ(t.site_time_zone(), "America/New_York");
  EXPECT_EQ(t.rotation_title(), "Inpatient Internal Medicine Clerkship");
  EXPECT_EQ(t.session_start_date(), Day(40));
  EXPECT_EQ(by_type["application.waitlisted"].application_transitioned().waitlist_position(), 1);
  EXPECT_EQ(by_type["application.submitted"].application_transitioned().from_state(),
            "STATE_UNSPECIFIED");
}

TEST_F(ApplicationLifecycleTest, EveryIllegalTransitionIsRefusedNamingTheCurrentState) {
  std::map<App::State, App> apps;
  for (App::State s : {App::SUBMITTED, App::WAITLISTED, App::OFFERED, App::ACCEPTED, App::REJECTED,
                       App::WITHDRAWN, App::DECLINED, App::CANCELLED, App::COMPLETED}) {
    apps[s] = ApplicationIn(absl::AsciiStrToLower(App::State_Name(s)), s);
    ASSERT_EQ(apps[s].state(), s);
  }
  // EXPIRED: a short offer that lapses; the others' 72-hour offers do not.
  {
    MakeReadyApplicant("expired");
    App app = MustSubmit("expired", session_);
    App out;
    ASSERT_TRUE(Offer(Coordinator("mercy"), app.name(), &out, absl::Minutes(10)).ok());
    clock_.Advance(absl::Minutes(11));
    ASSERT_TRUE(scheduler_->RunOnce().ok());
    apps[App::EXPIRED] = Get(app.name());
    ASSERT_EQ(apps[App::EXPIRED].state(), App::EXPIRED);
  }

  // Each action and the target state it moves to.
  struct Action {
    std::string name;
    App::State to;
    std::function<grpc::Status(const App&, App*)> call;
  };
  std::vector<Action> actions = {
      {"offer", App::OFFERED,
       [&](const App& a, App* out) { return Offer(Coordinator("mercy"), a.name(), out); }},
      {"waitlist", App::WAITLISTED,
       [&](const App& a, App* out) { return Waitlist(a.name(), 0, out); }},
      {"reject", App::REJECTED, [&](const App& a, App* out) { return Reject(a.name(), out); }},
      {"complete", App::COMPLETED,
       [&](const App& a, App* out) { return Complete(a.name(), 4, type::LOR_NONE, out); }},
      {"accept", App::ACCEPTED,
       [&](const App& a, App* out) {
         return Accept(Applicant(ResourceId(a.applicant(), "applicants")), a.name(), out);
       }},
      {"decline", App::DECLINED,
       [&](const App& a, App* out) {
         return Decline(ResourceId(a.applicant(), "applicants"), a.name(), out);
       }},
      {"withdraw", App::WITHDRAWN,
       [&](const App& a, App* out) {
         return Withdraw(ResourceId(a.applicant(), "applicants"), a.name(), out);
       }},
      {"cancel", App::CANCELLED, [&](const App& a, App* out) { return Cancel(a.name(), out); }},
  };
  int refused = 0;
  for (const auto& [state, app] : apps) {
    for (const Action& action : actions) {
      bool allowed = IsAllowedTransition(state, action.to) ||
                     // Re-waitlisting moves within the waitlist; re-completing updates details.
                     (state == App::WAITLISTED && action.to == App::WAITLISTED) ||
                     (state == App::COMPLETED && action.to == App::COMPLETED);
      if (allowed) continue;
      App out;
      grpc::Status s = action.call(app, &out);
      std::string what = absl::StrCat(action.name, " from ", App::State_Name(state));
      EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << what;
      EXPECT_EQ(ReasonOf(s), "INVALID_STATE_TRANSITION") << what;
      EXPECT_TRUE(absl::StrContains(s.error_message(), App::State_Name(state)))
          << what << ": " << s.error_message();
      // Nothing changed.
      EXPECT_EQ(Get(app.name()).etag(), app.etag()) << what;
      ++refused;
    }
  }
  // 10 states × 8 actions, minus the 13 edges reachable by an action (OFFERED → EXPIRED is
  // the clock's) and the 2 in-place updates.
  EXPECT_EQ(refused, 80 - 13 - 2);
}

TEST_F(ApplicationLifecycleTest, WaitlistKeepsTheCoordinatorsOrder) {
  std::vector<App> apps;
  for (const char* id : {"w1", "w2", "w3"}) {
    MakeReadyApplicant(id);
    App app = MustSubmit(id, session_);
    App out;
    ASSERT_TRUE(Waitlist(app.name(), 0, &out).ok());
    apps.push_back(out);
  }
  EXPECT_EQ(apps[2].waitlist_position(), 3);
  // Moving w3 to the front: no transition, no event.
  App moved;
  ASSERT_TRUE(Waitlist(apps[2].name(), 1, &moved).ok());
  EXPECT_EQ(moved.state(), App::WAITLISTED);
  EXPECT_EQ(moved.waitlist_position(), 1);
  EXPECT_EQ(moved.history_size(), apps[2].history_size());
  EXPECT_EQ(Get(apps[0].name()).waitlist_position(), 2);
  EXPECT_EQ(Get(apps[1].name()).waitlist_position(), 3);
  EXPECT_EQ(EventTypesFor(apps[2].name()),
            (std::vector<std::string>{"application.submitted", "application.waitlisted"}));

  v1::ListApplicationsRequest list;
  list.set_session(session_);
  list.set_state(App::WAITLISTED);
  list.set_order_by("waitlist_position");
  v1::ListApplicationsResponse response;
  ASSERT_TRUE(Call(Coordinator("mercy"), &Stub::ListApplications, list, &response).ok());
  std::vector<std::string> order;
  for (const auto& a : response.applications()) order.push_back(a.name());
  EXPECT_EQ(order, (std::vector<std::string>{apps[2].name(), apps[0].name(), apps[1].name()}));

  // Inserting a new one at position 2, and offering the head, shifts everyone.
  MakeReadyApplicant("w4");
  App fourth = MustSubmit("w4", session_);
  App inserted;
  ASSERT_TRUE(Waitlist(fourth.name(), 2, &inserted).ok());
  EXPECT_EQ(inserted.waitlist_position(), 2);
  App offered;
  ASSERT_TRUE(Offer(Coordinator("mercy"), apps[2].name(), &offered).ok());
  EXPECT_EQ(Get(fourth.name()).waitlist_position(), 1);
  EXPECT_EQ(Get(apps[1].name()).waitlist_position(), 3);
  for (const auto& e : Events()) {
    if (e.subject() == fourth.name() && e.type() == "application.waitlisted") {
      EXPECT_EQ(e.application_transitioned().waitlist_position(), 2);
    }
  }

  // Ordering by waitlist position needs the session and state filters.
  list.clear_state();
  grpc::Status s = Call(Coordinator("mercy"), &Stub::ListApplications, list, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(testing::ViolatedFields(s), std::set<std::string>{"order_by"});
}

TEST_F(ApplicationLifecycleTest, DeclineWithdrawRejectAndCancelGiveTheSeatBack) {
  App declined = ApplicationIn("d1", App::OFFERED);
  EXPECT_EQ(Seats(session_).seats_held(), 1);
  App out;
  ASSERT_TRUE(Decline("d1", declined.name(), &out).ok());
  EXPECT_EQ(out.state(), App::DECLINED);
  EXPECT_EQ(out.history().rbegin()->reason(), "found another rotation");
  EXPECT_EQ(Seats(session_).seats_held(), 0);
  EXPECT_EQ(Seats(session_).seats_available(), 10);

  App accepted = ApplicationIn("w1", App::ACCEPTED);
  EXPECT_EQ(Seats(session_).seats_confirmed(), 1);
  ASSERT_TRUE(Withdraw("w1", accepted.name(), &out).ok());
  EXPECT_EQ(out.state(), App::WITHDRAWN);
  EXPECT_EQ(Seats(session_).seats_confirmed(), 0);

  App to_cancel = ApplicationIn("c1", App::ACCEPTED);
  grpc::Status no_reason = Cancel(to_cancel.name(), &out, "");
  EXPECT_EQ(no_reason.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(testing::ViolatedFields(no_reason), std::set<std::string>{"reason"});
  ASSERT_TRUE(Cancel(to_cancel.name(), &out).ok());
  EXPECT_EQ(out.state(), App::CANCELLED);
  EXPECT_EQ(Seats(session_).seats_confirmed(), 0);
  EXPECT_EQ(Seats(session_).seats_available(), 10);

  // After a withdrawal the applicant may apply to the session again.
  App again;
  ASSERT_TRUE(Submit("w1", session_, &again).ok());
  EXPECT_NE(again.name(), accepted.name());

  // Nothing is left in the release outbox once the catalog has answered.
  EXPECT_EQ(redis_server_->Command({"ZCARD", RedisApplicantStore::kReleases}), "0");
}

TEST_F(ApplicationLifecycleTest, CrashBetweenSeatHoldAndStateWriteLeavesNoSeatAfterTheHoldLapses) {
  MakeReadyApplicant("a1");
  App app = MustSubmit("a1", session_);
  faulty_store_->fail_writes_to = App::OFFERED;
  App out;
  grpc::Status s = Offer(Coordinator("mercy"), app.name(), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(faulty_store_->failed_writes, 1);
  // The seat was held, the state never written.
  EXPECT_EQ(Get(app.name()).state(), App::SUBMITTED);
  EXPECT_EQ(Seats(session_).seats_held(), 1);
  EXPECT_EQ(EventTypesFor(app.name()), std::vector<std::string>{"application.submitted"});

  // Past the offer's expiry plus the grace period the hold no longer counts.
  clock_.Advance(absl::Hours(72) + absl::Minutes(5) + absl::Seconds(1));
  catalog::v1::SeatInventory seats = Seats(session_);
  EXPECT_EQ(seats.seats_held(), 0);
  EXPECT_EQ(seats.seats_available(), 10);
  EXPECT_EQ(seats.holds_size(), 0);
  // And the application can still be offered normally.
  faulty_store_->fail_writes_to = App::STATE_UNSPECIFIED;
  ASSERT_TRUE(Offer(Coordinator("mercy"), app.name(), &out).ok());
  EXPECT_EQ(Seats(session_).seats_held(), 1);
}

TEST_F(ApplicationLifecycleTest, RetriedOfferAfterACrashReusesTheSameHold) {
  MakeReadyApplicant("a1");
  App app = MustSubmit("a1", session_);
  faulty_store_->fail_writes_to = App::OFFERED;
  App out;
  EXPECT_EQ(Offer(Coordinator("mercy"), app.name(), &out).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  faulty_store_->fail_writes_to = App::STATE_UNSPECIFIED;
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(Offer(Coordinator("mercy"), app.name(), &out).ok());
  EXPECT_EQ(out.state(), App::OFFERED);
  catalog::v1::SeatInventory seats = Seats(session_);
  EXPECT_EQ(seats.seats_held(), 1);  // one seat, not two
  // The offer does not outlive the hold taken by the first attempt.
  ASSERT_EQ(seats.holds_size(), 1);
  EXPECT_LE(FromProtoTime(out.offer_expire_time()) + absl::Minutes(5),
            FromProtoTime(seats.holds(0).expire_time()));
}

TEST_F(ApplicationLifecycleTest, CrashBetweenConfirmAndStateWriteIsRepairedByRetryOrByExpiry) {
  App retried = ApplicationIn("r1", App::OFFERED);
  App abandoned = ApplicationIn("r2", App::OFFERED);
  faulty_store_->fail_writes_to = App::ACCEPTED;
  App out;
  EXPECT_EQ(Accept(Applicant("r1"), retried.name(), &out).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Accept(Applicant("r2"), abandoned.name(), &out).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Seats(session_).seats_confirmed(), 2);
  EXPECT_EQ(Get(retried.name()).state(), App::OFFERED);
  faulty_store_->fail_writes_to = App::STATE_UNSPECIFIED;

  // The applicant retries: ConfirmSeat is idempotent, the state catches up.
  ASSERT_TRUE(Accept(Applicant("r1"), retried.name(), &out).ok());
  EXPECT_EQ(out.state(), App::ACCEPTED);
  EXPECT_EQ(Seats(session_).seats_confirmed(), 2);

  // The other never retries: the offer lapses and its confirmed seat is released.
  clock_.Advance(absl::Hours(73));
  absl::StatusOr<OfferExpiryScheduler::PassResult> pass = scheduler_->RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->offers_expired, 1);
  EXPECT_EQ(Get(abandoned.name()).state(), App::EXPIRED);
  EXPECT_EQ(Get(retried.name()).state(), App::ACCEPTED);
  catalog::v1::SeatInventory seats = Seats(session_);
  EXPECT_EQ(seats.seats_confirmed(), 1);
  EXPECT_EQ(seats.seats_available(), 9);
}

TEST_F(ApplicationLifecycleTest, OffersExpireWithTheClockAndReleaseTheirSeat) {
  App app = ApplicationIn("a1", App::OFFERED);
  clock_.Advance(absl::Hours(71));
  absl::StatusOr<OfferExpiryScheduler::PassResult> pass = scheduler_->RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->offers_expired, 0);
  EXPECT_EQ(Get(app.name()).state(), App::OFFERED);

  clock_.Advance(absl::Hours(1) + absl::Seconds(1));
  pass = scheduler_->RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->offers_expired, 1);
  App expired = Get(app.name());
  EXPECT_EQ(expired.state(), App::EXPIRED);
  EXPECT_EQ(expired.history().rbegin()->actor(), "services/applicant");
  EXPECT_EQ(expired.history().rbegin()->from_state(), App::OFFERED);
  EXPECT_EQ(Seats(session_).seats_held(), 0);
  EXPECT_EQ(Seats(session_).seats_available(), 10);
  EXPECT_EQ(EventTypesFor(app.name()).back(), "application.expired");
  // Nothing left to do on the next pass.
  pass = scheduler_->RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->claimed, 0);
  EXPECT_EQ(redis_server_->Command({"ZCARD", RedisApplicantStore::kOfferExpiries}), "0");

  App out;
  grpc::Status s = Accept(Applicant("a1"), app.name(), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "EXPIRED")) << s.error_message();
}

TEST_F(ApplicationLifecycleTest, AcceptingALapsedOfferExpiresItEvenBeforeTheScheduler) {
  App app = ApplicationIn("a1", App::OFFERED);
  clock_.Advance(absl::Hours(72));
  App out;
  grpc::Status s = Accept(Applicant("a1"), app.name(), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "OFFER_EXPIRED");
  EXPECT_EQ(Get(app.name()).state(), App::EXPIRED);
  EXPECT_EQ(Seats(session_).seats_held(), 0);
  EXPECT_EQ(Seats(session_).seats_confirmed(), 0);
}

TEST_F(ApplicationLifecycleTest, AnOfferCanBeAcceptedInItsLastSecond) {
  App app = ApplicationIn("a1", App::OFFERED);
  clock_.Advance(absl::Hours(72) - absl::Seconds(1));
  App out;
  ASSERT_TRUE(Accept(Applicant("a1"), app.name(), &out).ok());
  EXPECT_EQ(out.state(), App::ACCEPTED);
  clock_.Advance(absl::Hours(1));
  ASSERT_TRUE(scheduler_->RunOnce().ok());
  EXPECT_EQ(Get(app.name()).state(), App::ACCEPTED);
  EXPECT_EQ(Seats(session_).seats_confirmed(), 1);
}

TEST_F(ApplicationLifecycleTest, FailedReleasesAreRetriedFromTheOutbox) {
  App app = ApplicationIn("a1", App::OFFERED);
  faulty_catalog_->fail_releases = true;
  App out;
  ASSERT_TRUE(Decline("a1", app.name(), &out).ok());
  EXPECT_EQ(out.state(), App::DECLINED);
  // The catalog did not hear about it: the seat is still held.
  EXPECT_EQ(Seats(session_).seats_held(), 1);
  EXPECT_EQ(redis_server_->Command({"ZCARD", RedisApplicantStore::kReleases}), "1");

  // Not due yet: the request path may still be finishing it.
  faulty_catalog_->fail_releases = false;
  absl::StatusOr<OfferExpiryScheduler::PassResult> pass = scheduler_->RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->releases_retried, 0);
  EXPECT_EQ(Seats(session_).seats_held(), 1);

  clock_.Advance(absl::Seconds(31));
  pass = scheduler_->RunOnce();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->releases_retried, 1);
  EXPECT_EQ(Seats(session_).seats_held(), 0);
  EXPECT_EQ(Seats(session_).seats_available(), 10);
  EXPECT_EQ(redis_server_->Command({"ZCARD", RedisApplicantStore::kReleases}), "0");
}

TEST_F(ApplicationLifecycleTest, SeveralSchedulersExpireEachOfferOnce) {
  std::vector<App> apps;
  for (int i = 0; i < 6; ++i) apps.push_back(ApplicationIn(absl::StrCat("x", i), App::OFFERED));
  clock_.Advance(absl::Hours(73));
  std::vector<std::unique_ptr<OfferExpiryScheduler>> replicas;
  for (int i = 0; i < 3; ++i) {
    SchedulerOptions options;
    options.batch = 2;
    replicas.push_back(std::make_unique<OfferExpiryScheduler>(faulty_store_.get(), lifecycle_.get(),
                                                              &clock_, options));
  }
  std::atomic<int> expired{0};
  std::vector<std::thread> threads;
  for (auto& replica : replicas) {
    threads.emplace_back([&, r = replica.get()] {
      for (int pass = 0; pass < 4; ++pass) {
        absl::StatusOr<OfferExpiryScheduler::PassResult> result = r->RunOnce();
        if (result.ok()) expired += result->offers_expired;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(expired, 6);
  for (const App& app : apps) {
    App now = Get(app.name());
    EXPECT_EQ(now.state(), App::EXPIRED);
    EXPECT_EQ(now.history_size(), 3);  // submitted, offered, expired: once
    std::vector<std::string> types = EventTypesFor(app.name());
    EXPECT_EQ(std::count(types.begin(), types.end(), "application.expired"), 1);
  }
  EXPECT_EQ(Seats(session_).seats_available(), 10);
}

TEST_F(ApplicationLifecycleTest, SubmissionChecksInTheDocumentedOrder) {
  // Not published.
  MakeSite("draft-site");
  std::string draft = MakeRotation("draft", ClinicalRotation("draft-site"), 10, 40, false);
  MakeReadyApplicant("a1");
  App out;
  grpc::Status s = Submit("a1", draft, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "ROTATION_NOT_PUBLISHED");

  // Unknown session.
  s = Submit("a1", "rotations/im/sessions/nope", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  // Duplicate live application.
  App first = MustSubmit("a1", session_);
  s = Submit("a1", session_, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(ReasonOf(s), "DUPLICATE_APPLICATION");

  // A full session still takes applications (they can be waitlisted).
  MakeSite("tiny");
  std::string tiny = MakeRotation("tiny", ClinicalRotation("tiny"), 1);
  MakeReadyApplicant("a2");
  MakeReadyApplicant("a3");
  App holder;
  ASSERT_TRUE(Offer(Admin(), MustSubmit("a2", tiny).name(), &holder).ok());
  EXPECT_EQ(Seats(tiny).seats_available(), 0);
  ASSERT_TRUE(Submit("a3", tiny, &out).ok());

  // The deadline is a day in the site's time zone: 14 days before the start, through its end.
  MakeSite("hawaii", "Pacific/Honolulu");
  std::string late = MakeRotation("late", ClinicalRotation("hawaii"), 10, 20);  // deadline +6
  MakeReadyApplicant("a4");
  clock_.Set(absl::FromCivil(absl::CivilSecond(2027, 3, 8, 9, 0, 0),
                             absl::TimeZone(absl::FixedTimeZone(-10 * 3600))));
  // 09:00 on 2027-03-08 in Honolulu: the deadline (2027-03-07) has passed.
  s = Submit("a4", late, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "APPLICATION_DEADLINE_PASSED");
  clock_.Set(absl::FromCivil(absl::CivilSecond(2027, 3, 7, 23, 30, 0),
                             absl::TimeZone(absl::FixedTimeZone(-10 * 3600))));
  // 23:30 on the 7th in Honolulu is already the 8th in UTC, but the deadline is a day in the
  // site's time zone: still open.
  ASSERT_TRUE(Submit("a4", late, &out).ok());
}

TEST_F(ApplicationLifecycleTest, IneligibleApplicantsAreToldEveryReason) {
  v1::Applicant visitor = Graduate();
  visitor.set_visa_status(type::B1_B2);
  visitor.set_step1_status(type::STEP1_NOT_TAKEN);
  MakeApplicant("b1", visitor);
  AddDocument("b1", type::CV);
  AddDocument("b1", type::PASSPORT, Day(3000));
  App out;
  grpc::Status s = Submit("b1", session_, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "NOT_ELIGIBLE");
  std::set<std::string> types;
  for (const PreconditionViolation& v : PreconditionsOf(s)) {
    types.insert(v.type);
    EXPECT_EQ(v.subject, "rotations/im");
    EXPECT_FALSE(v.description.empty());
  }
  EXPECT_EQ(types, (std::set<std::string>{"B1_B2_OBSERVERSHIP_ONLY", "STEP1_PASS_REQUIRED"}));

  // The same visitor may observe.
  catalog::v1::Rotation observership = ClinicalRotation("mercy");
  observership.set_experience_type(type::OBSERVERSHIP);
  observership.mutable_hands_on()->Clear();
  observership.mutable_eligibility()->Clear();
  std::string observe = MakeRotation("observe", observership);
  ASSERT_TRUE(Submit("b1", observe, &out).ok());
}

TEST_F(ApplicationLifecycleTest, MissingExpiredAndUnverifiedDocumentsAreListed) {
  catalog::v1::Rotation strict = ClinicalRotation("mercy");
  strict.clear_required_documents();
  strict.add_required_documents(type::PASSPORT);
  strict.add_required_documents(type::TB_TEST);
  strict.add_required_documents(type::BLS_CERTIFICATE);
  strict.add_required_documents(type::IMMUNIZATION_RECORD);
  strict.set_verified_documents_required(true);
  std::string session = MakeRotation("strict", strict);  // runs Day(40)..Day(67)
  MakeApplicant("d1");
  Verify(AddDocument("d1", type::PASSPORT, Day(3000)).name(), v1::Document::VERIFIED);
  Verify(AddDocument("d1", type::TB_TEST, Day(60)).name(), v1::Document::VERIFIED);  // too soon
  AddDocument("d1", type::BLS_CERTIFICATE, Day(3000));                               // pending
  Verify(AddDocument("d1", type::IMMUNIZATION_RECORD).name(), v1::Document::REJECTED,
         "illegible scan");  // rejected
  App out;
  grpc::Status s = Submit("d1", session, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ReasonOf(s), "DOCUMENTS_NOT_READY");
  std::map<std::string, std::string> by_kind;
  for (const PreconditionViolation& v : PreconditionsOf(s)) by_kind[v.subject] = v.type;
  EXPECT_EQ(by_kind,
            (std::map<std::string, std::string>{{"TB_TEST", "DOCUMENT_EXPIRES_TOO_SOON"},
                                                {"BLS_CERTIFICATE", "DOCUMENT_NOT_VERIFIED"},
                                                {"IMMUNIZATION_RECORD", "DOCUMENT_MISSING"}}));

  // Fixing each lets the application in.
  Verify(AddDocument("d1", type::TB_TEST, Day(400)).name(), v1::Document::VERIFIED);
  v1::ListDocumentsRequest list;
  list.set_parent("applicants/d1");
  list.set_kind(type::BLS_CERTIFICATE);
  v1::ListDocumentsResponse docs;
  ASSERT_TRUE(Call(Applicant("d1"), &Stub::ListDocuments, list, &docs).ok());
  Verify(docs.documents(0).name(), v1::Document::VERIFIED);
  Verify(AddDocument("d1", type::IMMUNIZATION_RECORD).name(), v1::Document::VERIFIED);
  ASSERT_TRUE(Submit("d1", session, &out).ok());
}

TEST_F(ApplicationLifecycleTest, MatchedOffersAreIdempotentAndReuseLiveApplications) {
  MakeReadyApplicant("m1");
  MakeReadyApplicant("m2");
  App existing = MustSubmit("m2", session_);

  auto matched = [&](const std::string& applicant, App* out) {
    v1::CreateMatchedOfferRequest request;
    request.set_applicant("applicants/" + applicant);
    request.set_session(session_);
    request.set_round("rounds/spring-2027");
    request.set_request_id("rounds/spring-2027/applicants/" + applicant);
    return Call(Service(), &Stub::CreateMatchedOffer, request, out);
  };

  // No application yet: one is created directly in OFFERED.
  App first;
  ASSERT_TRUE(matched("m1", &first).ok());
  EXPECT_EQ(first.state(), App::OFFERED);
  EXPECT_EQ(first.round(), "rounds/spring-2027");
  ASSERT_EQ(first.history_size(), 1);
  EXPECT_EQ(first.history(0).from_state(), App::STATE_UNSPECIFIED);
  EXPECT_EQ(first.history(0).reason(), "matched in rounds/spring-2027");
  EXPECT_EQ(first.history(0).actor(), "services/matching");
  EXPECT_EQ(first.site(), "sites/mercy");
  // An existing live application is offered instead of creating another.
  App second;
  ASSERT_TRUE(matched("m2", &second).ok());
  EXPECT_EQ(second.name(), existing.name());
  EXPECT_EQ(second.state(), App::OFFERED);
  EXPECT_EQ(second.round(), "rounds/spring-2027");
  EXPECT_EQ(Seats(session_).seats_held(), 2);

  // Publishing the round again changes nothing, even after the offer was declined.
  App out;
  ASSERT_TRUE(Decline("m1", first.name(), &out).ok());
  App again;
  ASSERT_TRUE(matched("m1", &again).ok());
  EXPECT_EQ(again.name(), first.name());
  EXPECT_EQ(again.state(), App::DECLINED);
  ASSERT_TRUE(matched("m2", &again).ok());
  EXPECT_EQ(again.name(), existing.name());
  EXPECT_EQ(Seats(session_).seats_held(), 1);
  for (const auto& e : Events()) {
    if (e.type() == "application.offered") {
      EXPECT_EQ(e.application_transitioned().round(), "rounds/spring-2027");
    }
  }
  // The matched application is an ordinary one from here on.
  ASSERT_TRUE(Accept(Applicant("m2"), existing.name(), &out).ok());
  EXPECT_EQ(Seats(session_).seats_confirmed(), 1);
}

TEST_F(ApplicationLifecycleTest, ListingFiltersByStateAndPagesThroughEverything) {
  std::vector<std::string> names;
  for (int i = 0; i < 7; ++i) {
    std::string id = absl::StrCat("l", i);
    MakeReadyApplicant(id);
    names.push_back(MustSubmit(id, session_).name());
    clock_.Advance(absl::Seconds(1));
  }
  App out;
  ASSERT_TRUE(Reject(names[1], &out).ok());
  ASSERT_TRUE(Reject(names[4], &out).ok());

  // Newest first, in pages of 2.
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    v1::ListApplicationsRequest request;
    request.set_site("sites/mercy");
    request.set_page_size(2);
    request.set_page_token(token);
    v1::ListApplicationsResponse response;
    ASSERT_TRUE(Call(Admin(), &Stub::ListApplications, request, &response).ok());
    for (const auto& a : response.applications()) seen.push_back(a.name());
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(seen, std::vector<std::string>(names.rbegin(), names.rend()));

  v1::ListApplicationsRequest rejected;
  rejected.set_rotation("rotations/im");
  rejected.set_state(App::REJECTED);
  rejected.set_order_by("create_time");
  v1::ListApplicationsResponse response;
  ASSERT_TRUE(Call(Coordinator("mercy"), &Stub::ListApplications, rejected, &response).ok());
  ASSERT_EQ(response.applications_size(), 2);
  EXPECT_EQ(response.applications(0).name(), names[1]);
  EXPECT_EQ(response.applications(1).name(), names[4]);

  // A token is only good for the filters it was made for.
  v1::ListApplicationsRequest first_page;
  first_page.set_page_size(1);
  ASSERT_TRUE(Call(Admin(), &Stub::ListApplications, first_page, &response).ok());
  rejected.set_page_token(response.next_page_token());
  grpc::Status s = Call(Admin(), &Stub::ListApplications, rejected, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(testing::ViolatedFields(s), std::set<std::string>{"page_token"});
}

TEST_F(ApplicationLifecycleTest, CatalogOutageIsUnavailableAndWritesNothing) {
  MakeReadyApplicant("a1");
  App app = MustSubmit("a1", session_);
  MakeReadyApplicant("a2");
  catalog_runner_->Shutdown();
  App out;
  grpc::Status s = Submit("a2", session_, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ReasonOf(s), "CATALOG_UNAVAILABLE");
  s = Offer(Coordinator("mercy"), app.name(), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Get(app.name()).state(), App::SUBMITTED);
  v1::ListApplicationsRequest list;
  list.set_applicant("applicants/a2");
  v1::ListApplicationsResponse response;
  ASSERT_TRUE(Call(Admin(), &Stub::ListApplications, list, &response).ok());
  EXPECT_EQ(response.applications_size(), 0);
}

TEST_F(ApplicationLifecycleTest, HealthFollowsRedisAndTheServiceRecovers) {
  MakeReadyApplicant("a1");
  App app = MustSubmit("a1", session_);
  using grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(testing::HealthOf(channel_, "clerkship.applicant.v1.ApplicantService"),
            HealthCheckResponse::SERVING);
  redis_server_->Kill();
  for (int i = 0; i < 300 && testing::HealthOf(channel_) == HealthCheckResponse::SERVING; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(testing::HealthOf(channel_), HealthCheckResponse::NOT_SERVING);
  v1::GetApplicationRequest get;
  get.set_name(app.name());
  App out;
  EXPECT_EQ(Call(Admin(), &Stub::GetApplication, get, &out).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(redis_server_->Restart());
  for (int i = 0; i < 1000 && testing::HealthOf(channel_) != HealthCheckResponse::SERVING; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(testing::HealthOf(channel_), HealthCheckResponse::SERVING);
  // The test Redis keeps no data across the restart; what matters is that calls work again.
  EXPECT_EQ(Call(Admin(), &Stub::GetApplication, get, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace clerkship::applicant
