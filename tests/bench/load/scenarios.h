#pragma once

// The scenarios the load tool measures, each against the real services' gRPC APIs (or the
// gateway's HTTP API), addressed through the seeded data set (data_model.h).
//
//   echo                 EchoService.Echo on the bare echo server: the baseline
//   echo_runner          Echo on an echo server built with ServerRunner (interceptors, access
//                        log, metrics, health): what the common server layer costs
//   echo_sized           the bare echo answering with --echo_sized_bytes of filler (by
//                        default a GetRotation answer's size): how much of a read's cost is
//                        just moving its bytes, on the client as well as the server
//   get_rotation         CatalogService.GetRotation of a random seeded rotation
//   search_rotations     CatalogService.SearchRotations, six filter shapes, page of 20
//   hold_release         SeatInventoryService.HoldSeat then ReleaseSeat (one operation)
//   submit_application   ApplicantService.SubmitApplication, a new (applicant, session) each
//   offer_accept         OfferApplication (admin) then AcceptOffer (the applicant), on
//                        applications submitted earlier in the run (or submitted first)
//   recommend_rotations  MatchingService.RecommendRotations, page of 10
//   list_notifications   NotificationService.ListNotifications, page of 20
//   journey              an applicant's visit: search, open a rotation, list its sessions,
//                        recommendations, inbox, and one visit in four applies
//   http_get_rotation    GET /v1/rotations/{x} through the gateway with a bearer token,
//                        over keep-alive HTTP/1.1; its baseline is get_rotation

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "tests/bench/load/data_model.h"
#include "tests/bench/load/load_driver.h"
#include "tests/bench/load/rpc.h"

namespace clerkship::bench {

// Applications in SUBMITTED, waiting to be offered (offer_accept takes them).
class SubmittedPool {
 public:
  void Add(std::string application, int applicant);
  bool Take(std::string* application, int* applicant);
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  std::deque<std::pair<std::string, int>> items_ ABSL_GUARDED_BY(mu_);
};

struct Endpoints {
  std::unique_ptr<Target> echo, echo_runner, catalog, applicant, matching, notification;
  std::string gateway;  // host:port of the HTTP gateway
  std::string token;    // bearer token for the gateway
};

struct ScenarioEnv {
  RpcClient* client = nullptr;
  DataSpec data;
  Endpoints endpoints;
  uint64_t application_offset = 0;  // NthApplication offset for this run
  int echo_response_bytes = 0;
  int echo_sized_bytes = 440;
  int search_shape = -1;  // search_rotations: -1 = every filter shape in turn
  SubmittedPool submitted;
  std::atomic<uint64_t> applications_started{0};
};

// The scenario called `name`, or null (with *error set) for an unknown name.
std::unique_ptr<Scenario> MakeScenario(const std::string& name, ScenarioEnv* env,
                                       std::string* error);
std::vector<std::string> AllScenarioNames();

}  // namespace clerkship::bench
