#pragma once

// gRPC adapter of the matching service: checks who is calling, validates, and
// hands the work on. Handlers never block: quick RPCs finish from store or
// client callbacks; the heavy ones (RunRound, PublishRound, ExportRound:
// whole-round loads, the algorithm, thousands of offers) run on the service's
// own round worker thread.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "clerkship/matching/v1/matching.grpc.pb.h"
#include "common/util/clock.h"
#include "services/matching/catalog_cache.h"
#include "services/matching/round_store.h"
#include "services/matching/service_clients.h"

namespace clerkship::matching {

struct MatchingServiceOptions {
  // Offers made by PublishRound lapse after this; zero = the applicant
  // service's default.
  absl::Duration matched_offer_lifetime = absl::ZeroDuration();
  // CreateMatchedOffer calls in flight at once while publishing.
  int publish_concurrency = 32;
};

// Runs tasks one after another on a thread of its own.
class RoundWorker {
 public:
  RoundWorker();
  ~RoundWorker();
  void Post(std::function<void()> task);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stop_ = false;
  std::thread thread_;
};

// Where RunRound spends its time (logged with every run; the benchmark reports
// it).
struct RunRoundTimings {
  absl::Duration close;  // closing ranking (one script)
  absl::Duration load;   // rank lists, rankings and sessions from Redis
  absl::Duration
      capacity;  // seats available, from the catalog cache or the catalog
  absl::Duration build;   // ids → the algorithm's instance
  absl::Duration match;   // lotteries and deferred acceptance
  absl::Duration verify;  // the independent stability check and statistics
  absl::Duration store;   // results and capacities to Redis, then the commit
};

class MatchingServiceImpl final : public v1::MatchingService::CallbackService {
 public:
  MatchingServiceImpl(RoundStore* store, CatalogCache* cache,
                      CatalogClient* catalog, ApplicantClient* applicants,
                      Clock* clock, MatchingServiceOptions options = {});

  grpc::ServerUnaryReactor* RecommendRotations(
      grpc::CallbackServerContext* context,
      const v1::RecommendRotationsRequest* request,
      v1::RecommendRotationsResponse* response) override;
  grpc::ServerUnaryReactor* CreateRound(grpc::CallbackServerContext* context,
                                        const v1::CreateRoundRequest* request,
                                        v1::Round* response) override;
  grpc::ServerUnaryReactor* GetRound(grpc::CallbackServerContext* context,
                                     const v1::GetRoundRequest* request,
                                     v1::Round* response) override;
  grpc::ServerUnaryReactor* SubmitRankList(
      grpc::CallbackServerContext* context,
      const v1::SubmitRankListRequest* request,
      v1::RankList* response) override;
  grpc::ServerUnaryReactor* SubmitSessionRanking(
      grpc::CallbackServerContext* context,
      const v1::SubmitSessionRankingRequest* request,
      v1::SessionRanking* response) override;
  grpc::ServerUnaryReactor* RunRound(grpc::CallbackServerContext* context,
                                     const v1::RunRoundRequest* request,
                                     v1::Round* response) override;
  grpc::ServerUnaryReactor* PublishRound(grpc::CallbackServerContext* context,
                                         const v1::PublishRoundRequest* request,
                                         v1::Round* response) override;
  grpc::ServerUnaryReactor* ListRoundResults(
      grpc::CallbackServerContext* context,
      const v1::ListRoundResultsRequest* request,
      v1::ListRoundResultsResponse* response) override;
  grpc::ServerUnaryReactor* ExportRound(
      grpc::CallbackServerContext* context,
      const v1::ExportRoundRequest* request,
      v1::ExportRoundResponse* response) override;

  // The round operations themselves, blocking; the RPCs run them on the worker.
  // Public for the national-scale benchmark.
  absl::StatusOr<v1::Round> RunRoundNow(const std::string& round_id,
                                        const std::string& etag,
                                        RunRoundTimings* timings = nullptr);
  absl::StatusOr<v1::Round> PublishRoundNow(const std::string& round_id,
                                            const std::string& etag);
  absl::StatusOr<std::string> ExportRoundNow(const std::string& round_id);

 private:
  // The rotation of a session, from the cache or else from the catalog.
  void LookupRotation(const std::string& rotation,
                      Done<catalog::v1::Rotation> done);

  RoundStore* store_;
  CatalogCache* cache_;
  CatalogClient* catalog_;
  ApplicantClient* applicants_;
  Clock* clock_;
  MatchingServiceOptions options_;
  RoundWorker worker_;
};

}  // namespace clerkship::matching
