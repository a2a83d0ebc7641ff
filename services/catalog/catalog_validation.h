#pragma once

// Validation of catalog and seat-inventory input: pure functions that report every bad
// field (not just the first) by its path in the request message.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clerkship/catalog/v1/catalog.pb.h"
#include "clerkship/catalog/v1/seats.pb.h"
#include "common/status/validation.h"

namespace clerkship::catalog {

absl::Status ValidateCreateSite(const v1::CreateSiteRequest& request);

// The coordinator-settable fields of a rotation (everything but name, site and output-only
// fields), reported as "rotation.<path>". Expects NormalizeRotationInput to have run.
void ValidateRotationFields(const v1::Rotation& rotation, Validator* v);
absl::Status ValidateCreateRotation(const v1::CreateRotationRequest& request);
// The request itself (rotation.name); the merged result goes through ValidateRotationFields.
absl::Status ValidateUpdateRotationRequest(const v1::UpdateRotationRequest& request);

// Dates and capacity of a session, reported as "session.<path>".
void ValidateSessionFields(const v1::Session& session, Validator* v);
absl::Status ValidateCreateSession(const v1::CreateSessionRequest& request);
absl::Status ValidateUpdateSessionRequest(const v1::UpdateSessionRequest& request);

// "rotations/{rotation}/sessions/{session}" → its two ids; false when malformed.
bool ParseSessionName(absl::string_view name, std::string* rotation_id, std::string* session_id);
bool RequireSessionName(Validator* v, absl::string_view field, absl::string_view name);

absl::Status ValidateHoldSeat(const v1::HoldSeatRequest& request, absl::Time now);
absl::Status ValidateConfirmSeat(const v1::ConfirmSeatRequest& request);
absl::Status ValidateReleaseSeat(const v1::ReleaseSeatRequest& request);
absl::Status ValidateGetSeatInventory(const v1::GetSeatInventoryRequest& request);

}  // namespace clerkship::catalog
