#pragma once

// Opaque page tokens (AIP-158). A token carries the position in a listing and a fingerprint
// of the request's filters; a token used with different filters is rejected, so a client
// cannot splice pages of two different queries together.
//
// Tokens are authenticated: each carries an HMAC-SHA256 tag keyed by the page-token secret,
// so a client cannot forge or edit one (a position the service never handed out, or another
// listing's fingerprint) — it is rejected as INVALID_ARGUMENT before its position is used.
// The secret comes from CLERKSHIP_PAGE_TOKEN_SECRET; without it each process draws a random
// one, and tokens are then only good on the process that issued them (set the variable to the
// same value on every replica of a service that runs more than one).
//
// Listings whose content depends on who asks (an applicant's own applications, an inbox)
// must also bind the token to the caller: put the caller's principal into the fingerprint
// (CallerFingerprint), so a token obtained by one user is refused for another.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clerkship {

struct PageCursor {
  uint64_t fingerprint = 0;  // of the filters (and, where it matters, the caller)
  std::string position;      // listing-specific: an offset, or the last key seen
};

std::string EncodePageToken(const PageCursor& cursor);
// INVALID_ARGUMENT naming page_token when the token is malformed, was not issued with this
// secret, was altered, or was issued for other filters or another caller (pass the
// fingerprint of the current request).
absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token, uint64_t fingerprint);

// A stable 64-bit fingerprint (FNV-1a), the same in every replica and release.
uint64_t Fingerprint(absl::string_view data);
// The fingerprint of a listing's filters as seen by one caller (their principal, e.g.
// "applicants/ana"): tokens of per-caller listings cannot be replayed by anyone else.
uint64_t CallerFingerprint(absl::string_view filters, absl::string_view principal);

// Replaces the page-token secret (tests; and tools that must mint tokens a running service
// accepts). Empty restores the default (the environment variable or a random secret).
void SetPageTokenSecretForTesting(absl::string_view secret);

// Clamps page_size: 0 → default, above max → max; negative is INVALID_ARGUMENT.
absl::StatusOr<int> PageSize(int32_t requested, int default_size = 20, int max_size = 100);

// Weak validator for a resource: stable hash of its serialized content.
std::string EtagOf(absl::string_view serialized);

}  // namespace clerkship
