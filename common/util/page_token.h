#pragma once

// Opaque page tokens (AIP-158). A token carries the position in a listing and a fingerprint
// of the request's filters; a token used with different filters is rejected, so a client
// cannot splice pages of two different queries together.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clerkship {

struct PageCursor {
  uint64_t fingerprint = 0;  // of the filters that produced the listing
  std::string position;      // listing-specific: an offset, or the last key seen
};

std::string EncodePageToken(const PageCursor& cursor);
// INVALID_ARGUMENT naming page_token when the token is malformed or was issued for other
// filters (pass the fingerprint of the current request's filters).
absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token, uint64_t fingerprint);

// A stable 64-bit fingerprint (FNV-1a), the same in every replica and release.
uint64_t Fingerprint(absl::string_view data);

// Clamps page_size: 0 → default, above max → max; negative is INVALID_ARGUMENT.
absl::StatusOr<int> PageSize(int32_t requested, int default_size = 20, int max_size = 100);

// Weak validator for a resource: stable hash of its serialized content.
std::string EtagOf(absl::string_view serialized);

}  // namespace clerkship
