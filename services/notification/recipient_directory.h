#pragma once

// What the notification service needs from other backends, behind small interfaces:
// the recipient's profile (name, e-mail, time zone) from the applicant service and a
// round's results from the matching service. The gRPC implementations call as
// "services/notification" with a deadline and cache profiles for a short while, so that a
// burst of events for one applicant costs one call.

#include <atomic>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clerkship/applicant/v1/applicant.grpc.pb.h"
#include "clerkship/matching/v1/matching.grpc.pb.h"

namespace clerkship::notification {

struct RecipientProfile {
  std::string given_name;
  std::string email;      // personal data: never logged
  std::string time_zone;  // IANA name or empty
};

class RecipientDirectory {
 public:
  using Done = std::function<void(absl::StatusOr<RecipientProfile>)>;
  virtual ~RecipientDirectory() = default;
  // NOT_FOUND: no such applicant. UNIMPLEMENTED: no directory configured. Anything else:
  // the directory is unreachable right now. `done` may run on any thread, and must not block.
  virtual void Lookup(const std::string& applicant_name, Done done) = 0;
  // Blocking form for worker threads.
  absl::StatusOr<RecipientProfile> LookupSync(const std::string& applicant_name);
};

// No applicant service configured: every lookup is UNIMPLEMENTED.
class NoRecipientDirectory final : public RecipientDirectory {
 public:
  void Lookup(const std::string&, Done done) override;
};

class GrpcRecipientDirectory final : public RecipientDirectory {
 public:
  GrpcRecipientDirectory(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout,
                         absl::Duration cache_ttl, size_t cache_capacity = 10000);
  void Lookup(const std::string& applicant_name, Done done) override;

 private:
  struct Cached {
    RecipientProfile profile;
    absl::Time expires;
    std::list<std::string>::iterator order;
  };
  void Remember(const std::string& name, const RecipientProfile& profile);

  std::unique_ptr<clerkship::applicant::v1::ApplicantService::Stub> stub_;
  absl::Duration timeout_;
  // After the service failed to answer, lookups fail at once for a short while instead
  // of each waiting out the deadline (an outage must not slow event processing to a crawl).
  std::atomic<int64_t> unavailable_until_ms_{0};
  absl::Duration cache_ttl_;
  size_t cache_capacity_;
  absl::Mutex mu_;
  std::map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> order_ ABSL_GUARDED_BY(mu_);  // oldest first
};

struct RoundOutcome {
  std::string applicant;  // "applicants/{id}"
  bool matched = false;
};

class RoundResultsSource {
 public:
  virtual ~RoundResultsSource() = default;
  // Every applicant's outcome in the round (blocking; called on a consumer thread).
  // UNIMPLEMENTED when no matching service is configured.
  virtual absl::StatusOr<std::vector<RoundOutcome>> ListOutcomes(const std::string& round) = 0;
};

class NoRoundResults final : public RoundResultsSource {
 public:
  absl::StatusOr<std::vector<RoundOutcome>> ListOutcomes(const std::string&) override;
};

class GrpcRoundResults final : public RoundResultsSource {
 public:
  GrpcRoundResults(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);
  absl::StatusOr<std::vector<RoundOutcome>> ListOutcomes(const std::string& round) override;

 private:
  std::unique_ptr<clerkship::matching::v1::MatchingService::Stub> stub_;
  absl::Duration timeout_;
};

// Sets the identity headers of a backend-to-backend call.
void SetServiceIdentity(grpc::ClientContext* context);

}  // namespace clerkship::notification
