#pragma once

// The one validation style every service uses: a Validator collects every problem with a
// request (not only the first), each naming its field by its path in the request message
// ("site.us_state", "rotation.fees.program_fee_cents"), and turns them into a single
// INVALID_ARGUMENT with BadRequest details.
//
//   Validator v;
//   v.RequireNonEmpty("site.display_name", site.display_name());
//   v.RequireUsState("site.us_state", site.us_state());
//   if (absl::Status s = v.Finish(); !s.ok()) return s;

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/status/status.h"

namespace clerkship {

class Validator {
 public:
  // Records a violation when `ok` is false. Returns `ok` so callers can skip dependent checks.
  bool Check(bool ok, absl::string_view field, absl::string_view description);
  void Add(absl::string_view field, absl::string_view description);

  bool RequireNonEmpty(absl::string_view field, absl::string_view value);
  // Length in bytes, and valid UTF-8.
  bool RequireLength(absl::string_view field, absl::string_view value, size_t min, size_t max);
  bool RequireRange(absl::string_view field, int64_t value, int64_t min, int64_t max);
  // A calendar date "YYYY-MM-DD" that exists (2027-02-30 does not).
  bool RequireDate(absl::string_view field, absl::string_view value, bool required = true);
  // A resource name "<collection>/<id>" with a valid id.
  bool RequireName(absl::string_view field, absl::string_view value,
                   absl::string_view collection);
  bool RequireEmail(absl::string_view field, absl::string_view value);
  bool RequireUsState(absl::string_view field, absl::string_view value);

  bool ok() const { return violations_.empty(); }
  const std::vector<FieldViolation>& violations() const { return violations_; }
  absl::Status Finish() const;

 private:
  std::vector<FieldViolation> violations_;
};

// Helpers that the validator uses and that services need on their own.
bool IsValidUtf8(absl::string_view s);
bool IsValidDate(absl::string_view s);
// An id made of [a-z0-9-] (AIP-122), 1..63 characters.
bool IsValidResourceId(absl::string_view id);
bool IsUsStateCode(absl::string_view code);
// Loads an IANA time zone named by a client. A name that cannot be a zone name (empty, over
// 64 characters, characters outside [A-Za-z0-9/_+-], "..", a leading '/') is refused before
// Abseil sees it: Abseil keeps every name it is asked to load, valid or not, for the life of
// the process, so unchecked names from clients would grow memory without bound.
bool LoadClientTimeZone(absl::string_view name, absl::TimeZone* tz);
// Splits "<collection>/<id>" and returns the id, or empty if the name does not match.
std::string ResourceId(absl::string_view name, absl::string_view collection);

}  // namespace clerkship
