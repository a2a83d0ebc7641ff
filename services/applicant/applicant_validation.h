#pragma once

// Validation of applicant-service input: pure functions, one violation per bad field, field
// paths as in the request message ("applicant.graduation_year", "document.sha256").

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "clerkship/applicant/v1/applicant.pb.h"
#include "common/status/validation.h"

namespace clerkship::applicant {

// Lengths in Unicode code points (types.proto), after trimming. Also requires valid UTF-8.
bool RequireChars(Validator* v, absl::string_view field, absl::string_view value, size_t min,
                  size_t max);

// "rotations/{rotation}/sessions/{session}" → rotation name "rotations/{rotation}"; empty
// when malformed.
std::string RotationOfSession(absl::string_view session);
bool RequireSessionName(Validator* v, absl::string_view field, absl::string_view value);

// Leading and trailing white space of every string field is dropped (types.proto), and
// sha256-style fields are lower-cased.
void NormalizeApplicant(v1::Applicant* applicant);
void NormalizeDocument(v1::Document* document);

// Every rule of Applicant's fields; `prefix` is the path of the message ("applicant.").
void ValidateApplicantFields(const v1::Applicant& applicant, int current_year,
                             absl::string_view prefix, Validator* v);

// The update_mask paths to apply (resolving "*" and the empty mask), or INVALID_ARGUMENT
// naming update_mask.
absl::StatusOr<std::vector<std::string>> ResolveUpdatePaths(
    const v1::UpdateApplicantRequest& request);
// Copies the fields named by `paths` from `from` into `to`.
void ApplyUpdatePaths(const v1::Applicant& from, const std::vector<std::string>& paths,
                      v1::Applicant* to);

// Fields of a new document except the issue date's "not in the future" rule (that needs the
// applicant's today; see ValidateIssueDateNotFuture).
void ValidateDocumentFields(const v1::Document& document, absl::string_view prefix, Validator* v);

bool IsValidCountryCode(absl::string_view code);
// SHA-256 as 64 lower-case hex digits.
std::string Sha256Hex(absl::string_view data);
// The SHA-256 of the lower-cased e-mail address, as 64 hex digits: identifies an address in
// the uniqueness index without storing it.
std::string EmailDigest(absl::string_view email);

}  // namespace clerkship::applicant
