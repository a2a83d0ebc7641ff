#pragma once

// Bearer tokens: JWS compact serialization (RFC 7515/7519) with one pinned algorithm, HS256
// (shared secret), RS256 or ES256 (PEM public key). The verifier checks the signature with the
// key parsed once at start-up, then exp, nbf, iss and aud, and turns the claims sub/role/site
// into the caller's identity. A token whose header names any other algorithm ("none",
// "HS256" against an RSA key, ...) is rejected before its signature is looked at.
//
// Verified tokens are cached (bounded, until the earlier of their exp and a short TTL) so a
// client's every request does not pay for an RSA or ECDSA verification.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/util/clock.h"

struct evp_pkey_st;

namespace clerkship::gateway {

enum class JwtAlgorithm { kHS256, kRS256, kES256 };
bool ParseJwtAlgorithm(absl::string_view name, JwtAlgorithm* out);
absl::string_view JwtAlgorithmName(JwtAlgorithm algorithm);

struct JwtVerifierOptions {
  JwtAlgorithm algorithm = JwtAlgorithm::kHS256;
  std::string secret;                         // HS256; at least 32 bytes
  std::string public_key_pem;                 // RS256 / ES256
  std::string issuer;                         // required "iss" when not empty
  std::string audience;                       // required in "aud" when not empty
  absl::Duration leeway = absl::Seconds(30);  // clock skew allowed for exp and nbf
  size_t cache_capacity = 10000;
  absl::Duration cache_ttl = absl::Seconds(60);
};

// Who the token says the caller is, after checking the claims agree with each other.
struct Principal {
  std::string subject;  // applicants/{id} | coordinators/{id} | admins/{id}
  std::string role;     // applicant | coordinator | admin
  std::string site;     // coordinators: sites/{id}
  absl::Time expires;
};

// sub/role/site agree: role applicant|coordinator|admin, sub in the matching collection with
// a valid id, site "sites/{id}" for coordinators and empty for everyone else.
absl::Status ValidateIdentityClaims(absl::string_view subject, absl::string_view role,
                                    absl::string_view site);

class JwtVerifier {
 public:
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(JwtVerifierOptions options,
                                                             const Clock* clock);
  ~JwtVerifier();

  // UNAUTHENTICATED with an ErrorInfo reason (TOKEN_MALFORMED, TOKEN_ALGORITHM_NOT_ALLOWED,
  // TOKEN_SIGNATURE_INVALID, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID, TOKEN_ISSUER_MISMATCH,
  // TOKEN_AUDIENCE_MISMATCH, TOKEN_CLAIMS_INVALID) when the token is not acceptable.
  absl::StatusOr<Principal> Verify(absl::string_view token);

  size_t cache_size_for_testing();

 private:
  JwtVerifier(JwtVerifierOptions options, const Clock* clock);
  absl::StatusOr<Principal> VerifyUncached(absl::string_view token) const;
  bool CheckSignature(absl::string_view signing_input, absl::string_view signature) const;

  JwtVerifierOptions options_;
  const Clock* clock_;
  evp_pkey_st* public_key_ = nullptr;

  struct CachedToken {
    Principal principal;
    absl::Time cached_until;
  };
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, CachedToken> cache_ ABSL_GUARDED_BY(mu_);
};

struct JwtSigningKey {
  JwtAlgorithm algorithm = JwtAlgorithm::kHS256;
  std::string secret;           // HS256
  std::string private_key_pem;  // RS256 / ES256
};

// Signs `payload_json` (a JSON object) as a compact JWS. For the admin tool and tests.
absl::StatusOr<std::string> SignJwt(const JwtSigningKey& key, absl::string_view payload_json);

// The standard claims of a gateway token as a JSON object: sub, role, site (if any), iat, nbf,
// exp = now + ttl, iss and aud (if not empty).
std::string TokenClaimsJson(absl::string_view subject, absl::string_view role,
                            absl::string_view site, absl::string_view issuer,
                            absl::string_view audience, absl::Time now, absl::Duration ttl);

std::string Base64UrlEncode(absl::string_view data);
bool Base64UrlDecode(absl::string_view text, std::string* out);

}  // namespace clerkship::gateway
