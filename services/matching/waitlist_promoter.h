#pragma once

// Automatic waitlist promotion. The catalog appends seat.released /
// seat.expired to `cat:events` when a seat frees up; a StreamConsumer (group
// "matching", shared by all replicas) hands each entry to Handle(), which
// offers the seat to the first WAITLISTED application of the session through
// ApplicantService.OfferApplication.
//
// Exactly one promotion per freed seat: each event id is claimed in Redis
// (mat:promoted:{event_id}) before anything is offered, so a redelivered entry
// or another replica finds the claim and does nothing; a claim whose holder
// died lapses after a lease and the event is retried. Should that retry ever
// offer a second seat, the catalog's seat hold refuses it (RESOURCE_EXHAUSTED),
// so a session is never over-offered.

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/events/events.h"
#include "common/util/clock.h"
#include "services/matching/redis_round_store.h"
#include "services/matching/service_clients.h"

namespace clerkship::matching {

struct WaitlistPromoterOptions {
  std::string consumer;  // this replica's consumer name
  // Offer lifetime; zero = the applicant service's default.
  absl::Duration offer_lifetime = absl::ZeroDuration();
  // Applications tried per freed seat when the first ones changed state
  // meanwhile.
  int max_candidates = 10;
};

class WaitlistPromoter {
 public:
  WaitlistPromoter(ApplicantClient* applicants, RedisPromotionClaims* claims,
                   Clock* clock, WaitlistPromoterOptions options)
      : applicants_(applicants),
        claims_(claims),
        clock_(clock),
        options_(std::move(options)) {}

  // The consumer handler: OK acknowledges the entry; an error leaves it pending
  // for retry.
  absl::Status Handle(const events::StreamEntry& entry);

  int64_t promotions() const { return promotions_.load(); }

 private:
  // Offers the seat; returns what happened, in words, for the claim record.
  absl::StatusOr<std::string> Promote(const std::string& session);

  ApplicantClient* applicants_;
  RedisPromotionClaims* claims_;
  Clock* clock_;
  WaitlistPromoterOptions options_;
  std::atomic<int64_t> promotions_{0};
};

}  // namespace clerkship::matching
