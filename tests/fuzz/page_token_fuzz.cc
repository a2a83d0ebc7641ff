// libFuzzer entry point for page tokens. The input is decoded as a token (as a client would
// send it); it is also used as a listing position, encoded and decoded again, which must
// give it back unchanged and only for the same fingerprint. Nothing may crash, hang or leak.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/util/page_token.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool keyed = [] {
    clerkship::SetPageTokenSecretForTesting("fuzz-page-token-secret-0123456789");
    return true;
  }();
  (void)keyed;
  std::string input(reinterpret_cast<const char*>(data), size);
  uint64_t fingerprint = clerkship::CallerFingerprint("fuzz|filters", "applicants/fuzz");
  (void)clerkship::DecodePageToken(input, fingerprint);

  std::string token = clerkship::EncodePageToken({fingerprint, input});
  absl::StatusOr<clerkship::PageCursor> cursor = clerkship::DecodePageToken(token, fingerprint);
  if (token.size() <= 4096) {
    if (!cursor.ok() || cursor->position != input) std::abort();
  }
  if (clerkship::DecodePageToken(token, fingerprint + 1).ok()) std::abort();
  return 0;
}
