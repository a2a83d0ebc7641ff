// Races through the real services: idempotent submission under concurrent retries, and many
// applicants competing for few seats.

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "absl/synchronization/barrier.h"
#include "tests/services/applicant/applicant_test_env.h"

namespace clerkship::applicant {
namespace {

using testing::ReasonOf;
using Stub = v1::ApplicantService::Stub;

class ConcurrencyTest : public ApplicantTestEnv {
 protected:
  // Runs fn(i) for i in [0, n) on n threads released together.
  template <typename Fn>
  static void Race(int n, Fn fn) {
    absl::Barrier* start = new absl::Barrier(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        if (start->Block()) delete start;
        fn(i);
      });
    }
    for (auto& t : threads) t.join();
  }
};

TEST_F(ConcurrencyTest, FiftyConcurrentRetriesOfOneSubmitCreateExactlyOneApplication) {
  MakeSite("mercy");
  std::string session = MakeRotation("im", ClinicalRotation("mercy"));
  MakeReadyApplicant("a1");

  constexpr int kRetries = 50;
  std::vector<grpc::Status> statuses(kRetries);
  std::vector<App> results(kRetries);
  Race(kRetries,
       [&](int i) { statuses[i] = Submit("a1", session, &results[i], "7f1c9a2e-submit-once"); });
  std::set<std::string> names;
  for (int i = 0; i < kRetries; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    EXPECT_EQ(results[i].state(), App::SUBMITTED);
    names.insert(results[i].name());
  }
  EXPECT_EQ(names.size(), 1u);

  v1::ListApplicationsRequest list;
  v1::ListApplicationsResponse response;
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::ListApplications, list, &response).ok());
  EXPECT_EQ(response.applications_size(), 1);
  EXPECT_EQ(EventTypesFor(*names.begin()), std::vector<std::string>{"application.submitted"});

  // A later retry with the same id still answers with that application, even once withdrawn;
  // a new request id is a new submission.
  App out;
  v1::WithdrawApplicationRequest withdraw;
  withdraw.set_name(*names.begin());
  ASSERT_TRUE(Call(Applicant("a1"), &Stub::WithdrawApplication, withdraw, &out).ok());
  ASSERT_TRUE(Submit("a1", session, &out, "7f1c9a2e-submit-once").ok());
  EXPECT_EQ(out.name(), *names.begin());
  EXPECT_EQ(out.state(), App::WITHDRAWN);
  ASSERT_TRUE(Submit("a1", session, &out, "second-attempt").ok());
  EXPECT_NE(out.name(), *names.begin());
  // The same request id from another applicant is theirs alone.
  MakeReadyApplicant("a2");
  ASSERT_TRUE(Submit("a2", session, &out, "7f1c9a2e-submit-once").ok());
  EXPECT_EQ(out.applicant(), "applicants/a2");
}

TEST_F(ConcurrencyTest, HundredApplicantsNeverConfirmMoreThanTenSeats) {
  MakeSite("mercy");
  std::string session = MakeRotation("im", ClinicalRotation("mercy"), /*capacity=*/10);
  constexpr int kApplicants = 100;
  std::vector<std::string> apps(kApplicants);
  Race(kApplicants, [&](int i) {
    std::string id = absl::StrCat("p", i);
    MakeReadyApplicant(id);
    App out;
    grpc::Status s = Submit(id, session, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    apps[i] = out.name();
  });

  // The coordinator offers to everyone at once: an offer holds a seat, so only ten succeed.
  std::vector<grpc::Status> offers(kApplicants);
  Race(kApplicants, [&](int i) {
    App out;
    offers[i] = Offer(Coordinator("mercy"), apps[i], &out);
  });
  int offered = 0;
  for (const grpc::Status& s : offers) {
    if (s.ok()) {
      ++offered;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
      EXPECT_EQ(ReasonOf(s), "NO_SEATS_AVAILABLE");
    }
  }
  EXPECT_EQ(offered, 10);
  catalog::v1::SeatInventory seats = Seats(session);
  EXPECT_EQ(seats.seats_held(), 10);
  EXPECT_EQ(seats.seats_available(), 0);

  // Everyone races to accept: only those holding an offer can.
  std::vector<grpc::Status> accepts(kApplicants);
  Race(kApplicants, [&](int i) {
    App out;
    accepts[i] = Accept(Applicant(absl::StrCat("p", i)), apps[i], &out);
  });
  int accepted = 0;
  for (int i = 0; i < kApplicants; ++i) {
    if (accepts[i].ok()) {
      ++accepted;
      EXPECT_TRUE(offers[i].ok());
    } else {
      EXPECT_EQ(accepts[i].error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    }
  }
  EXPECT_EQ(accepted, 10);
  seats = Seats(session);
  EXPECT_EQ(seats.seats_confirmed(), 10);
  EXPECT_EQ(seats.seats_held(), 0);
  EXPECT_EQ(seats.seats_available(), 0);

  // One accepted applicant withdraws; the freed seat goes to exactly one of the 90 others,
  // however many offers race for it.
  int leaver = 0;
  while (!accepts[leaver].ok()) ++leaver;
  v1::WithdrawApplicationRequest withdraw;
  withdraw.set_name(apps[leaver]);
  App out;
  ASSERT_TRUE(
      Call(Applicant(absl::StrCat("p", leaver)), &Stub::WithdrawApplication, withdraw, &out).ok());
  EXPECT_EQ(Seats(session).seats_available(), 1);
  std::vector<int> waiting;
  for (int i = 0; i < kApplicants; ++i) {
    if (!offers[i].ok()) waiting.push_back(i);
  }
  std::atomic<int> second_round{0};
  Race(static_cast<int>(waiting.size()), [&](int k) {
    App out;
    if (Offer(Coordinator("mercy"), apps[waiting[k]], &out).ok()) ++second_round;
  });
  EXPECT_EQ(second_round, 1);
  seats = Seats(session);
  EXPECT_EQ(seats.seats_confirmed() + seats.seats_held(), 10);
  EXPECT_EQ(seats.capacity(), 10);

  // The application states agree with the catalog.
  std::map<App::State, int> states;
  for (const std::string& name : apps) ++states[Get(name).state()];
  EXPECT_EQ(states[App::ACCEPTED], 9);
  EXPECT_EQ(states[App::OFFERED], 1);
  EXPECT_EQ(states[App::WITHDRAWN], 1);
  EXPECT_EQ(states[App::SUBMITTED], 89);
}

}  // namespace
}  // namespace clerkship::applicant
