#pragma once

// The application state machine of DESIGN.md §4, as pure functions:
//
//   SUBMITTED  → OFFERED | WAITLISTED | REJECTED | WITHDRAWN
//   WAITLISTED → OFFERED | REJECTED | WITHDRAWN
//   OFFERED    → ACCEPTED | DECLINED | EXPIRED | WITHDRAWN
//   ACCEPTED   → COMPLETED | CANCELLED | WITHDRAWN

#include <string>

#include "absl/status/status.h"
#include "clerkship/applicant/v1/applicant.pb.h"

namespace clerkship::applicant {

using AppState = v1::Application::State;

// Whether `from → to` is an edge of the state machine.
bool IsAllowedTransition(AppState from, AppState to);

// OK, or FAILED_PRECONDITION (reason INVALID_STATE_TRANSITION) naming the current state.
absl::Status CheckTransition(AppState from, AppState to);

// Live applications block a second application to the same session: every state except
// REJECTED, WITHDRAWN, DECLINED, EXPIRED and CANCELLED.
bool IsLive(AppState state);

// States after which the application holds no seat (every final state but COMPLETED): the
// transition into one of them gives back whatever seat the application may hold.
bool ReleasesSeat(AppState state);

// "SUBMITTED", "OFFERED", ...
std::string StateName(AppState state);
// "application.offered", ...
std::string TransitionEventType(AppState to);

}  // namespace clerkship::applicant
