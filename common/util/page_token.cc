#include "common/util/page_token.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status.h"

namespace clerkship {
namespace {
constexpr char kVersion[] = "p1";
}  // namespace

uint64_t Fingerprint(absl::string_view data) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string EncodePageToken(const PageCursor& cursor) {
  std::string raw = absl::StrCat(kVersion, ":", absl::Hex(cursor.fingerprint), ":", cursor.position);
  return absl::WebSafeBase64Escape(raw);
}

absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token, uint64_t fingerprint) {
  std::string raw;
  if (token.size() > 4096 || !absl::WebSafeBase64Unescape(token, &raw)) {
    return InvalidFieldError("page_token", "is not a page token issued by this service");
  }
  size_t a = raw.find(':');
  size_t b = a == std::string::npos ? a : raw.find(':', a + 1);
  PageCursor cursor;
  if (b == std::string::npos || raw.substr(0, a) != kVersion ||
      !absl::SimpleHexAtoi(raw.substr(a + 1, b - a - 1), &cursor.fingerprint)) {
    return InvalidFieldError("page_token", "is not a page token issued by this service");
  }
  if (cursor.fingerprint != fingerprint) {
    return InvalidFieldError("page_token",
                             "was issued for different filters; start again without a token");
  }
  cursor.position = raw.substr(b + 1);
  return cursor;
}

absl::StatusOr<int> PageSize(int32_t requested, int default_size, int max_size) {
  if (requested < 0) return InvalidFieldError("page_size", "must not be negative");
  if (requested == 0) return default_size;
  return requested > max_size ? max_size : static_cast<int>(requested);
}

std::string EtagOf(absl::string_view serialized) {
  return absl::StrFormat("%016x", Fingerprint(serialized));
}

}  // namespace clerkship
