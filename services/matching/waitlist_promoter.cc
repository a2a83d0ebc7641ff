#include "services/matching/waitlist_promoter.h"

#include "absl/strings/str_cat.h"
#include "clerkship/events/v1/events.pb.h"
#include "common/logging/log.h"
#include "common/util/ids.h"

namespace clerkship::matching {

absl::Status WaitlistPromoter::Handle(const events::StreamEntry& entry) {
  if (entry.type != "seat.released" && entry.type != "seat.expired")
    return absl::OkStatus();
  events::v1::Event event;
  if (!event.ParseFromString(entry.data) || event.id().empty()) {
    log::Warning("unreadable seat event skipped", {{"entry", entry.id}});
    return absl::OkStatus();
  }
  const events::v1::SeatChange& seat =
      event.has_seat_released() ? event.seat_released() : event.seat_expired();
  if (seat.session().empty()) return absl::OkStatus();

  absl::StatusOr<RedisPromotionClaims::Claim> claim =
      claims_->Acquire(event.id(), options_.consumer);
  if (!claim.ok()) return claim.status();
  if (*claim == RedisPromotionClaims::Claim::kAlreadyDone)
    return absl::OkStatus();
  if (*claim == RedisPromotionClaims::Claim::kHeldByOther) {
    // Another replica is on it; leave the entry pending and look again later.
    return absl::UnavailableError("another replica is promoting this seat");
  }

  absl::StatusOr<std::string> outcome = Promote(seat.session());
  if (!outcome.ok()) {
    if (absl::Status s = claims_->Release(event.id(), options_.consumer);
        !s.ok()) {
      log::Warning("could not release a promotion claim",
                   {{"error", std::string(s.message())}});
    }
    return outcome.status();
  }
  log::Info("waitlist promotion", {{"event", event.id()},
                                   {"session", seat.session()},
                                   {"outcome", *outcome}});
  return claims_->Finish(event.id(), options_.consumer, *outcome);
}

absl::StatusOr<std::string> WaitlistPromoter::Promote(
    const std::string& session) {
  applicant::v1::ListApplicationsRequest list;
  list.set_session(session);
  list.set_state(applicant::v1::Application::WAITLISTED);
  list.set_order_by("waitlist_position");
  list.set_page_size(options_.max_candidates);
  absl::StatusOr<applicant::v1::ListApplicationsResponse> waitlist =
      applicants_->ListApplicationsSync(list);
  if (!waitlist.ok()) return waitlist.status();
  if (waitlist->applications().empty()) return std::string("waitlist empty");

  for (const applicant::v1::Application& application :
       waitlist->applications()) {
    applicant::v1::OfferApplicationRequest offer;
    offer.set_name(application.name());
    offer.set_reason("A seat became free; first on the waitlist.");
    if (options_.offer_lifetime > absl::ZeroDuration()) {
      *offer.mutable_offer_expire_time() =
          ToProtoTime(clock_->Now() + options_.offer_lifetime);
    }
    absl::StatusOr<applicant::v1::Application> offered =
        applicants_->OfferApplicationSync(offer);
    if (offered.ok()) {
      promotions_++;
      return absl::StrCat("offered ", application.name());
    }
    switch (offered.status().code()) {
      case absl::StatusCode::kResourceExhausted:
        // The seat is taken already (a coordinator's offer, or this event's
        // earlier try): the catalog's hold refused a second one, which is
        // exactly what we want.
        return std::string("no seat left to offer");
      case absl::StatusCode::kFailedPrecondition:
      case absl::StatusCode::kNotFound:
      case absl::StatusCode::kAborted:
        continue;  // withdrawn or moved meanwhile: the next one in line
      default:
        return offered.status();
    }
  }
  return std::string("no waitlisted application could be offered");
}

}  // namespace clerkship::matching
