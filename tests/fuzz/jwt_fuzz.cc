// libFuzzer entry point for bearer tokens. The input is verified as a token by an HS256
// verifier; it is also signed as a claims payload with the verifier's own secret and
// verified again, so the claims checks (exp, nbf, iss, aud, sub/role/site) are reached
// with arbitrary JSON. A token accepted must name a valid identity. Nothing may crash, hang
// or leak.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/util/clock.h"
#include "services/gateway/jwt.h"

namespace {

using clerkship::gateway::JwtVerifier;

constexpr char kSecret[] = "fuzz-secret-0123456789abcdef0123456789";

struct Fixture {
  clerkship::ManualClock clock{absl::FromUnixSeconds(1800000000)};
  std::unique_ptr<JwtVerifier> verifier;
  Fixture() {
    clerkship::gateway::JwtVerifierOptions options;
    options.secret = kSecret;
    options.issuer = "clerkship";
    options.audience = "clerkship-api";
    options.cache_capacity = 64;
    verifier = *JwtVerifier::Create(options, &clock);
  }
};

Fixture& Get() {
  static Fixture* fixture = new Fixture;
  return *fixture;
}

void Check(absl::string_view token) {
  absl::StatusOr<clerkship::gateway::Principal> principal = Get().verifier->Verify(token);
  if (principal.ok() &&
      !clerkship::gateway::ValidateIdentityClaims(principal->subject, principal->role,
                                                  principal->site)
           .ok()) {
    std::abort();  // an accepted token must carry a consistent identity
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  Check(input);
  clerkship::gateway::JwtSigningKey key;
  key.secret = kSecret;
  absl::StatusOr<std::string> signed_token = clerkship::gateway::SignJwt(key, input);
  if (signed_token.ok()) {
    Check(*signed_token);
    Check(*signed_token);  // the second time from the cache
  }
  std::string decoded;
  (void)clerkship::gateway::Base64UrlDecode(input, &decoded);
  return 0;
}
