#include "common/util/page_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status.h"

namespace clerkship {
namespace {

// "p2": authenticated tokens. Tokens of the unauthenticated format "p1" are refused.
constexpr char kVersion[] = "p2";
constexpr size_t kTagSize = 16;  // truncated HMAC-SHA256: 128 bits is plenty for a cursor
constexpr size_t kMaxTokenSize = 4096;

struct SecretState {
  std::mutex mu;
  std::string secret;  // empty until first use
};

SecretState& State() {
  static SecretState* state = new SecretState;
  return *state;
}

std::string DefaultSecret() {
  const char* configured = std::getenv("CLERKSHIP_PAGE_TOKEN_SECRET");
  if (configured != nullptr && *configured != '\0') return configured;
  std::string random(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(random.data()), random.size()) != 1) {
    std::abort();  // no randomness: nothing secure can be issued
  }
  return random;
}

std::string Secret() {
  SecretState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  if (state.secret.empty()) state.secret = DefaultSecret();
  return state.secret;
}

std::string Tag(absl::string_view payload) {
  std::string secret = Secret();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int out_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), out, &out_len);
  return std::string(reinterpret_cast<const char*>(out), kTagSize);
}

absl::Status NotOurs() {
  return InvalidFieldError("page_token", "is not a page token issued by this service");
}

}  // namespace

uint64_t Fingerprint(absl::string_view data) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

uint64_t CallerFingerprint(absl::string_view filters, absl::string_view principal) {
  // The length prefix keeps ("a|b", "c") and ("a", "b|c") apart.
  return Fingerprint(absl::StrCat(principal.size(), ":", principal, "|", filters));
}

void SetPageTokenSecretForTesting(absl::string_view secret) {
  SecretState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  state.secret = std::string(secret);
}

std::string EncodePageToken(const PageCursor& cursor) {
  std::string payload =
      absl::StrCat(kVersion, ":", absl::Hex(cursor.fingerprint), ":", cursor.position);
  return absl::WebSafeBase64Escape(absl::StrCat(Tag(payload), payload));
}

absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token, uint64_t fingerprint) {
  std::string raw;
  if (token.size() > kMaxTokenSize || !absl::WebSafeBase64Unescape(token, &raw) ||
      raw.size() <= kTagSize) {
    return NotOurs();
  }
  absl::string_view tag = absl::string_view(raw).substr(0, kTagSize);
  absl::string_view payload = absl::string_view(raw).substr(kTagSize);
  std::string expected = Tag(payload);
  if (CRYPTO_memcmp(expected.data(), tag.data(), kTagSize) != 0) return NotOurs();
  size_t a = payload.find(':');
  size_t b = a == absl::string_view::npos ? a : payload.find(':', a + 1);
  PageCursor cursor;
  if (b == absl::string_view::npos || payload.substr(0, a) != kVersion ||
      !absl::SimpleHexAtoi(payload.substr(a + 1, b - a - 1), &cursor.fingerprint)) {
    return NotOurs();
  }
  if (cursor.fingerprint != fingerprint) {
    return InvalidFieldError("page_token",
                             "was issued for a different request (other filters, or another "
                             "caller); start again without a token");
  }
  cursor.position = std::string(payload.substr(b + 1));
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
