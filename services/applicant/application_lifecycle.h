#pragma once

// Applications and their state machine, including the seats they take in the catalog.
//
// Seats live in the catalog, application states in this service's Redis, so no single
// atomic step covers both. The order of the steps makes every crash repairable:
//   offer    HoldSeat(expiry = offer expiry + grace) first, then the state write. A crash in
//            between leaves a hold that lapses on its own; a retry finds the same hold
//            (holds are per holder, and the holder is the application).
//   accept   ConfirmSeat first, then the state write. ConfirmSeat is idempotent, so a retry
//            repairs a crash in between; without a retry the offer lapses and the expiry
//            releases the confirmed seat.
//   decline, withdraw, reject, cancel, expire
//            the state write first, which also enqueues the seat release in an outbox
//            (app:seats:release), then ReleaseSeat, then the outbox entry is removed. A crash
//            or a catalog outage in between is repaired by the OfferExpiryScheduler, which
//            retries the outbox.
// Writes are compare-and-set on the application's etag, so concurrent actions on one
// application serialize: the loser re-reads and re-decides.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "clerkship/applicant/v1/applicant.pb.h"
#include "common/auth/identity.h"
#include "common/util/clock.h"
#include "services/applicant/applicant_store.h"
#include "services/applicant/application_state.h"
#include "services/applicant/catalog_client.h"

namespace clerkship::applicant {

struct LifecycleOptions {
  // Offer lifetime when the request does not say.
  absl::Duration offer_ttl = absl::Hours(72);
  // A seat hold outlives its offer by this much, so an acceptance in the offer's last second
  // can still confirm it.
  absl::Duration hold_grace = absl::Minutes(5);
  // When a release that failed (or whose process died) is retried from the outbox.
  absl::Duration release_retry = absl::Seconds(30);
  // Who this service is when it acts on its own (expiry) and toward the catalog.
  std::string service_principal = "services/applicant";
};

class ApplicationLifecycle {
 public:
  ApplicationLifecycle(ApplicantStore* store, CatalogClient* catalog, Clock* clock,
                       LifecycleOptions options = {});

  void Submit(const auth::Identity& who, const v1::SubmitApplicationRequest& request,
              Done<v1::Application> done);
  void Get(const auth::Identity& who, const v1::GetApplicationRequest& request,
           Done<v1::Application> done);
  void List(const auth::Identity& who, const v1::ListApplicationsRequest& request,
            Done<v1::ListApplicationsResponse> done);
  void Offer(const auth::Identity& who, const v1::OfferApplicationRequest& request,
             Done<v1::Application> done);
  void Waitlist(const auth::Identity& who, const v1::WaitlistApplicationRequest& request,
                Done<v1::Application> done);
  void Reject(const auth::Identity& who, const v1::RejectApplicationRequest& request,
              Done<v1::Application> done);
  void Complete(const auth::Identity& who, const v1::CompleteApplicationRequest& request,
                Done<v1::Application> done);
  void Accept(const auth::Identity& who, const v1::AcceptOfferRequest& request,
              Done<v1::Application> done);
  void Decline(const auth::Identity& who, const v1::DeclineOfferRequest& request,
               Done<v1::Application> done);
  void Withdraw(const auth::Identity& who, const v1::WithdrawApplicationRequest& request,
                Done<v1::Application> done);
  void Cancel(const auth::Identity& who, const v1::CancelApplicationRequest& request,
              Done<v1::Application> done);
  void CreateMatchedOffer(const auth::Identity& who, const v1::CreateMatchedOfferRequest& request,
                          Done<v1::Application> done);

  // For the OfferExpiryScheduler: moves the application to EXPIRED if it is OFFERED and its
  // offer has lapsed, and gives its seat back; true if this call expired it.
  void ExpireOffer(const std::string& application_id, Done<bool> done);
  // For the OfferExpiryScheduler: retries the seat release of an application in the outbox;
  // true if a release was sent.
  void RetryRelease(const std::string& application_id, Done<bool> done);

  const LifecycleOptions& options() const { return options_; }

 private:
  enum class Access { kRead, kSiteStaff, kSelf, kPrivileged };
  struct Actor {
    std::string principal;
    std::string reason;
  };
  struct Outcome {
    StoredApplication stored;
    bool changed = false;
  };
  // Decides the write for the current version: an error, nothing to do (nullopt), or a write.
  using Planner = std::function<absl::StatusOr<std::optional<ApplicationWrite>>(
      const StoredApplication& current)>;
  struct SubmitState;
  struct MatchState;

  // Reads the application and checks that `who` may act on it (PERMISSION_DENIED before
  // NOT_FOUND: callers who could not act on it do not learn whether it exists).
  void LoadFor(const auth::Identity& who, const std::string& name, Access access,
               Done<StoredApplication> done);
  // Read → plan → compare-and-set, again from a fresh read when another write came between.
  void Transact(const std::string& application_id, Planner planner, Done<Outcome> done,
                std::optional<StoredApplication> first = std::nullopt, int attempt = 0);
  // The write for `current → to`, with history, schedules, outbox and event; `edit` sets the
  // fields that go with the transition before the etag is computed.
  ApplicationWrite Transition(const StoredApplication& current, AppState to, const Actor& actor,
                              const std::function<void(v1::Application*)>& edit = nullptr) const;
  // A change without a transition (waitlist move, completion details): no event.
  ApplicationWrite Update(const StoredApplication& current,
                          const std::function<void(v1::Application*)>& edit) const;

  // The shared tail of actions that end in a state without a seat: release, then answer.
  void ActThenRelease(const auth::Identity& who, const std::string& name, const std::string& etag,
                      Access access, AppState to, const std::string& reason,
                      Done<v1::Application> done);
  void ReleaseSeatOf(const StoredApplication& stored, std::function<void()> then);

  void HoldAndOffer(const StoredApplication& stored, absl::Time expire, const Actor& actor,
                    const std::string& round, const std::string& idempotency_key,
                    const std::string& etag, Done<v1::Application> done);
  void ExpireNow(const std::string& application_id, bool force, Done<Outcome> done);

  void SubmitLoaded(std::shared_ptr<SubmitState> s);
  void SubmitFetchCatalog(std::shared_ptr<SubmitState> s);
  void SubmitDecide(std::shared_ptr<SubmitState> s);
  void MatchLoaded(std::shared_ptr<MatchState> m);
  void MatchCreate(std::shared_ptr<MatchState> m);

  absl::Status CheckOfferExpireTime(const v1::OfferApplicationRequest& request) const;
  absl::Time ClampHold(absl::Time hold_until) const;

  ApplicantStore* store_;
  CatalogClient* catalog_;
  Clock* clock_;
  LifecycleOptions options_;
};

}  // namespace clerkship::applicant
