#include "services/applicant/application_state.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace clerkship::applicant {

using App = v1::Application;

bool IsAllowedTransition(AppState from, AppState to) {
  switch (from) {
    case App::SUBMITTED:
      return to == App::OFFERED || to == App::WAITLISTED || to == App::REJECTED ||
             to == App::WITHDRAWN;
    case App::WAITLISTED:
      return to == App::OFFERED || to == App::REJECTED || to == App::WITHDRAWN;
    case App::OFFERED:
      return to == App::ACCEPTED || to == App::DECLINED || to == App::EXPIRED ||
             to == App::WITHDRAWN;
    case App::ACCEPTED:
      return to == App::COMPLETED || to == App::CANCELLED || to == App::WITHDRAWN;
    default:
      return false;
  }
}

absl::Status CheckTransition(AppState from, AppState to) {
  if (IsAllowedTransition(from, to)) return absl::OkStatus();
  return ErrorWithInfo(
      absl::StatusCode::kFailedPrecondition,
      absl::StrCat("the application is ", StateName(from), " and cannot become ", StateName(to)),
      "INVALID_STATE_TRANSITION", "clerkship.applicant");
}

bool IsLive(AppState state) {
  return state != App::REJECTED && state != App::WITHDRAWN && state != App::DECLINED &&
         state != App::EXPIRED && state != App::CANCELLED && state != App::STATE_UNSPECIFIED;
}

bool ReleasesSeat(AppState state) { return !IsLive(state) && state != App::STATE_UNSPECIFIED; }

std::string StateName(AppState state) { return App::State_Name(state); }

std::string TransitionEventType(AppState to) {
  return absl::StrCat("application.", absl::AsciiStrToLower(StateName(to)));
}

}  // namespace clerkship::applicant
