#include "common/status/validation.h"

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace clerkship {

bool Validator::Check(bool ok, absl::string_view field, absl::string_view description) {
  if (!ok) Add(field, description);
  return ok;
}

void Validator::Add(absl::string_view field, absl::string_view description) {
  violations_.push_back({std::string(field), std::string(description)});
}

bool Validator::RequireNonEmpty(absl::string_view field, absl::string_view value) {
  return Check(!absl::StripAsciiWhitespace(value).empty(), field, "is required");
}

bool Validator::RequireLength(absl::string_view field, absl::string_view value, size_t min,
                              size_t max) {
  if (!Check(IsValidUtf8(value), field, "must be valid UTF-8")) return false;
  if (min > 0 && absl::StripAsciiWhitespace(value).empty()) {
    Add(field, "is required");
    return false;
  }
  return Check(value.size() >= min && value.size() <= max, field,
               absl::StrCat("must be between ", min, " and ", max, " bytes long"));
}

bool Validator::RequireRange(absl::string_view field, int64_t value, int64_t min,
                             int64_t max) {
  return Check(value >= min && value <= max, field,
               absl::StrCat("must be between ", min, " and ", max));
}

bool Validator::RequireDate(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) return Check(!required, field, "is required (YYYY-MM-DD)");
  return Check(IsValidDate(value), field, "must be a real calendar date as YYYY-MM-DD");
}

bool Validator::RequireName(absl::string_view field, absl::string_view value,
                            absl::string_view collection) {
  if (value.empty()) {
    Add(field, absl::StrCat("is required (", collection, "/{id})"));
    return false;
  }
  return Check(!ResourceId(value, collection).empty(), field,
               absl::StrCat("must be a resource name of the form ", collection, "/{id}"));
}

bool Validator::RequireEmail(absl::string_view field, absl::string_view value) {
  size_t at = value.find('@');
  bool ok = value.size() <= 254 && IsValidUtf8(value) && at != absl::string_view::npos &&
            at > 0 && value.find('@', at + 1) == absl::string_view::npos &&
            value.find('.', at) != absl::string_view::npos && value.back() != '.' &&
            std::none_of(value.begin(), value.end(),
                         [](char c) { return absl::ascii_isspace(c) || absl::ascii_iscntrl(c); });
  return Check(ok, field, "must be an email address like name@example.org");
}

bool Validator::RequireUsState(absl::string_view field, absl::string_view value) {
  return Check(IsUsStateCode(value), field, "must be a two-letter US state code such as NY");
}

absl::Status Validator::Finish() const {
  if (violations_.empty()) return absl::OkStatus();
  return InvalidArgumentError(violations_);
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Reject overlong encodings, surrogates and values past U+10FFFF.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

bool IsValidDate(absl::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  int year, month, day;
  if (!absl::SimpleAtoi(s.substr(0, 4), &year) || !absl::SimpleAtoi(s.substr(5, 2), &month) ||
      !absl::SimpleAtoi(s.substr(8, 2), &day)) {
    return false;
  }
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!absl::ascii_isdigit(s[i])) return false;
  }
  if (year < 1900 || year > 2200 || month < 1 || month > 12 || day < 1) return false;
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int max_day = kDays[month - 1];
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && leap) max_day = 29;
  return day <= max_day;
}

bool IsValidResourceId(absl::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool LoadClientTimeZone(absl::string_view name, absl::TimeZone* tz) {
  if (name.empty() || name.size() > 64 || absl::StrContains(name, "..") || name.front() == '/') {
    return false;
  }
  for (char c : name) {
    bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' ||
              c == '-' || c == '+';
    if (!ok) return false;
  }
  return absl::LoadTimeZone(std::string(name), tz);
}

bool IsUsStateCode(absl::string_view code) {
  static constexpr std::array<const char*, 54> kStates = {
      "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN",
      "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV",
      "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN",
      "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "PR", "GU", "VI"};
  return std::any_of(kStates.begin(), kStates.end(),
                     [code](const char* s) { return code == s; });
}

std::string ResourceId(absl::string_view name, absl::string_view collection) {
  if (name.size() <= collection.size() + 1) return "";
  if (name.substr(0, collection.size()) != collection || name[collection.size()] != '/') {
    return "";
  }
  absl::string_view id = name.substr(collection.size() + 1);
  return IsValidResourceId(id) ? std::string(id) : "";
}

}  // namespace clerkship
