#include "services/gateway/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status/status.h"

namespace clerkship::gateway {
namespace {

constexpr size_t kMaxTokenBytes = 8192;
constexpr char kDomain[] = "clerkship.gateway";

absl::Status Unauthenticated(absl::string_view message, absl::string_view reason) {
  return ErrorWithInfo(absl::StatusCode::kUnauthenticated, message, reason, kDomain);
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

bool IsResourceId(absl::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  for (char c : id) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
  }
  return true;
}

// "applicants/x" with the collection the role implies.
bool SubjectMatchesRole(absl::string_view subject, absl::string_view role) {
  absl::string_view collection;
  if (role == "applicant")
    collection = "applicants/";
  else if (role == "coordinator")
    collection = "coordinators/";
  else if (role == "admin")
    collection = "admins/";
  else
    return false;
  return absl::ConsumePrefix(&subject, collection) && IsResourceId(subject);
}

std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::unique_ptr<EVP_PKEY, PkeyDeleter> ReadPem(absl::string_view pem, bool private_key) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  EVP_PKEY* key = private_key ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                              : PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  return std::unique_ptr<EVP_PKEY, PkeyDeleter>(key);
}

absl::Status CheckKeyType(EVP_PKEY* key, JwtAlgorithm algorithm) {
  if (algorithm == JwtAlgorithm::kRS256) {
    if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA)
      return absl::InvalidArgumentError("RS256 needs an RSA key");
    if (EVP_PKEY_bits(key) < 2048)
      return absl::InvalidArgumentError("RSA keys must have at least 2048 bits");
    return absl::OkStatus();
  }
  if (EVP_PKEY_base_id(key) != EVP_PKEY_EC)
    return absl::InvalidArgumentError("ES256 needs an EC key");
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1 ||
      (std::string(group) != "prime256v1" && std::string(group) != "P-256")) {
    return absl::InvalidArgumentError("ES256 needs a P-256 (prime256v1) key");
  }
  return absl::OkStatus();
}

// The JSON number of a NumericDate claim.
bool NumericDate(const nlohmann::json& payload, const char* name, double* out) {
  auto it = payload.find(name);
  if (it == payload.end() || !it->is_number()) return false;
  *out = it->get<double>();
  return std::isfinite(*out);
}

}  // namespace

absl::Status ValidateIdentityClaims(absl::string_view subject, absl::string_view role,
                                    absl::string_view site) {
  if (!SubjectMatchesRole(subject, role)) {
    return absl::InvalidArgumentError(
        "role must be applicant, coordinator or admin and sub applicants/{id}, "
        "coordinators/{id} or admins/{id} to match it");
  }
  if (role == "coordinator") {
    absl::string_view id = site;
    if (!absl::ConsumePrefix(&id, "sites/") || !IsResourceId(id)) {
      return absl::InvalidArgumentError("a coordinator needs a site \"sites/{id}\"");
    }
  } else if (!site.empty()) {
    return absl::InvalidArgumentError("only coordinators have a site");
  }
  return absl::OkStatus();
}

bool ParseJwtAlgorithm(absl::string_view name, JwtAlgorithm* out) {
  if (name == "HS256")
    *out = JwtAlgorithm::kHS256;
  else if (name == "RS256")
    *out = JwtAlgorithm::kRS256;
  else if (name == "ES256")
    *out = JwtAlgorithm::kES256;
  else
    return false;
  return true;
}

absl::string_view JwtAlgorithmName(JwtAlgorithm algorithm) {
  switch (algorithm) {
    case JwtAlgorithm::kHS256:
      return "HS256";
    case JwtAlgorithm::kRS256:
      return "RS256";
    case JwtAlgorithm::kES256:
      return "ES256";
  }
  return "";
}

std::string Base64UrlEncode(absl::string_view data) {
  std::string out;
  absl::WebSafeBase64Escape(data, &out);  // unpadded
  return out;
}

bool Base64UrlDecode(absl::string_view text, std::string* out) {
  for (char c : text) {
    if (!(absl::ascii_isalnum(c) || c == '-' || c == '_')) return false;
  }
  if (text.size() % 4 == 1) return false;
  return absl::WebSafeBase64Unescape(text, out);
}

JwtVerifier::JwtVerifier(JwtVerifierOptions options, const Clock* clock)
    : options_(std::move(options)), clock_(clock) {}

JwtVerifier::~JwtVerifier() {
  if (public_key_ != nullptr) EVP_PKEY_free(public_key_);
}

absl::StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(JwtVerifierOptions options,
                                                                 const Clock* clock) {
  std::unique_ptr<JwtVerifier> verifier(new JwtVerifier(std::move(options), clock));
  const JwtVerifierOptions& o = verifier->options_;
  if (o.algorithm == JwtAlgorithm::kHS256) {
    if (o.secret.size() < 32) {
      return absl::InvalidArgumentError("HS256 needs a secret of at least 32 bytes");
    }
  } else {
    auto key = ReadPem(o.public_key_pem, /*private_key=*/false);
    if (!key) return absl::InvalidArgumentError("cannot read the PEM public key");
    if (absl::Status s = CheckKeyType(key.get(), o.algorithm); !s.ok()) return s;
    verifier->public_key_ = key.release();
  }
  return verifier;
}

bool JwtVerifier::CheckSignature(absl::string_view signing_input,
                                 absl::string_view signature) const {
  if (options_.algorithm == JwtAlgorithm::kHS256) {
    std::string expected = HmacSha256(options_.secret, signing_input);
    return signature.size() == expected.size() &&
           CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) == 0;
  }
  std::string der;
  const unsigned char* sig = reinterpret_cast<const unsigned char*>(signature.data());
  size_t sig_len = signature.size();
  if (options_.algorithm == JwtAlgorithm::kES256) {
    // JWS carries r || s (32 bytes each); OpenSSL wants a DER ECDSA-Sig-Value.
    if (signature.size() != 64) return false;
    std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> ecdsa(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig, 32, nullptr);
    BIGNUM* s = BN_bin2bn(sig + 32, 32, nullptr);
    if (!ecdsa || r == nullptr || s == nullptr || ECDSA_SIG_set0(ecdsa.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(ecdsa.get(), &out);
    if (len <= 0) return false;
    der.assign(reinterpret_cast<char*>(out), len);
    OPENSSL_free(out);
    sig = reinterpret_cast<const unsigned char*>(der.data());
    sig_len = der.size();
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, public_key_) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), sig, sig_len,
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

absl::StatusOr<Principal> JwtVerifier::VerifyUncached(absl::string_view token) const {
  if (token.size() > kMaxTokenBytes) return Unauthenticated("token too long", "TOKEN_MALFORMED");
  std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) {
    return Unauthenticated("token is not a compact JWS (three dot-separated parts)",
                           "TOKEN_MALFORMED");
  }
  std::string header_text, payload_text, signature;
  if (!Base64UrlDecode(parts[0], &header_text) || !Base64UrlDecode(parts[1], &payload_text) ||
      !Base64UrlDecode(parts[2], &signature)) {
    return Unauthenticated("token is not base64url", "TOKEN_MALFORMED");
  }
  nlohmann::json header = nlohmann::json::parse(header_text, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return Unauthenticated("token header is not a JSON object", "TOKEN_MALFORMED");
  }
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() ||
      alg->get<std::string>() != JwtAlgorithmName(options_.algorithm)) {
    return Unauthenticated(absl::StrCat("token algorithm not allowed; expected ",
                                        JwtAlgorithmName(options_.algorithm)),
                           "TOKEN_ALGORITHM_NOT_ALLOWED");
  }
  if (header.contains("crit")) {
    return Unauthenticated("token has critical header parameters", "TOKEN_MALFORMED");
  }
  absl::string_view signing_input = token.substr(0, parts[0].size() + 1 + parts[1].size());
  if (!CheckSignature(signing_input, signature)) {
    return Unauthenticated("token signature is invalid", "TOKEN_SIGNATURE_INVALID");
  }

  nlohmann::json payload = nlohmann::json::parse(payload_text, nullptr, false);
  if (payload.is_discarded() || !payload.is_object()) {
    return Unauthenticated("token claims are not a JSON object", "TOKEN_MALFORMED");
  }
  const double now = absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch());
  const double leeway = absl::ToDoubleSeconds(options_.leeway);
  double exp = 0, nbf = 0;
  if (!NumericDate(payload, "exp", &exp)) {
    return Unauthenticated("token has no exp claim", "TOKEN_CLAIMS_INVALID");
  }
  if (now > exp + leeway) return Unauthenticated("token has expired", "TOKEN_EXPIRED");
  if (payload.contains("nbf")) {
    if (!NumericDate(payload, "nbf", &nbf)) {
      return Unauthenticated("token nbf claim is not a number", "TOKEN_CLAIMS_INVALID");
    }
    if (now + leeway < nbf) return Unauthenticated("token is not valid yet", "TOKEN_NOT_YET_VALID");
  }
  if (!options_.issuer.empty()) {
    auto iss = payload.find("iss");
    if (iss == payload.end() || !iss->is_string() || iss->get<std::string>() != options_.issuer) {
      return Unauthenticated("token issuer is not accepted", "TOKEN_ISSUER_MISMATCH");
    }
  }
  if (!options_.audience.empty()) {
    auto aud = payload.find("aud");
    bool ok = false;
    if (aud != payload.end() && aud->is_string()) {
      ok = aud->get<std::string>() == options_.audience;
    } else if (aud != payload.end() && aud->is_array()) {
      for (const auto& a : *aud)
        ok = ok || (a.is_string() && a.get<std::string>() == options_.audience);
    }
    if (!ok) return Unauthenticated("token audience is not accepted", "TOKEN_AUDIENCE_MISMATCH");
  }

  auto text_claim = [&](const char* name) -> std::string {
    auto it = payload.find(name);
    return it != payload.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  Principal p;
  p.subject = text_claim("sub");
  p.role = text_claim("role");
  // Only coordinators act for a site; a site claim on anyone else is ignored.
  if (p.role == "coordinator") p.site = text_claim("site");
  if (absl::Status s = ValidateIdentityClaims(p.subject, p.role, p.site); !s.ok()) {
    return Unauthenticated(absl::StrCat("token claims: ", s.message()), "TOKEN_CLAIMS_INVALID");
  }
  p.expires = absl::UnixEpoch() + absl::Seconds(exp);
  return p;
}

absl::StatusOr<Principal> JwtVerifier::Verify(absl::string_view token) {
  const absl::Time now = clock_->Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(token);
    if (it != cache_.end()) {
      if (now < it->second.cached_until) return it->second.principal;
      cache_.erase(it);
    }
  }
  absl::StatusOr<Principal> principal = VerifyUncached(token);
  if (!principal.ok() || options_.cache_capacity == 0) return principal;
  absl::Time until = std::min(now + options_.cache_ttl, principal->expires + options_.leeway);
  absl::MutexLock lock(&mu_);
  if (cache_.size() >= options_.cache_capacity) {
    absl::erase_if(cache_, [now](const auto& entry) { return entry.second.cached_until <= now; });
    if (cache_.size() >= options_.cache_capacity) cache_.clear();
  }
  cache_[std::string(token)] = CachedToken{*principal, until};
  return principal;
}

size_t JwtVerifier::cache_size_for_testing() {
  absl::MutexLock lock(&mu_);
  return cache_.size();
}

absl::StatusOr<std::string> SignJwt(const JwtSigningKey& key, absl::string_view payload_json) {
  nlohmann::json header = {{"alg", std::string(JwtAlgorithmName(key.algorithm))}, {"typ", "JWT"}};
  std::string signing_input =
      absl::StrCat(Base64UrlEncode(header.dump()), ".", Base64UrlEncode(payload_json));
  std::string signature;
  if (key.algorithm == JwtAlgorithm::kHS256) {
    if (key.secret.size() < 32)
      return absl::InvalidArgumentError("HS256 needs a secret of at least 32 bytes");
    signature = HmacSha256(key.secret, signing_input);
  } else {
    auto pkey = ReadPem(key.private_key_pem, /*private_key=*/true);
    if (!pkey) return absl::InvalidArgumentError("cannot read the PEM private key");
    if (absl::Status s = CheckKeyType(pkey.get(), key.algorithm); !s.ok()) return s;
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
    size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len,
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
      return absl::InternalError("signing failed");
    }
    std::string der(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &len,
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
      return absl::InternalError("signing failed");
    }
    der.resize(len);
    if (key.algorithm == JwtAlgorithm::kRS256) {
      signature = std::move(der);
    } else {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
      std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> ecdsa(
          d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
      if (!ecdsa) return absl::InternalError("signing failed");
      unsigned char raw[64];
      if (BN_bn2binpad(ECDSA_SIG_get0_r(ecdsa.get()), raw, 32) != 32 ||
          BN_bn2binpad(ECDSA_SIG_get0_s(ecdsa.get()), raw + 32, 32) != 32) {
        return absl::InternalError("signing failed");
      }
      signature.assign(reinterpret_cast<char*>(raw), 64);
    }
  }
  return absl::StrCat(signing_input, ".", Base64UrlEncode(signature));
}

std::string TokenClaimsJson(absl::string_view subject, absl::string_view role,
                            absl::string_view site, absl::string_view issuer,
                            absl::string_view audience, absl::Time now, absl::Duration ttl) {
  nlohmann::ordered_json claims;
  claims["sub"] = std::string(subject);
  claims["role"] = std::string(role);
  if (!site.empty()) claims["site"] = std::string(site);
  if (!issuer.empty()) claims["iss"] = std::string(issuer);
  if (!audience.empty()) claims["aud"] = std::string(audience);
  int64_t iat = absl::ToUnixSeconds(now);
  claims["iat"] = iat;
  claims["nbf"] = iat;
  claims["exp"] = absl::ToUnixSeconds(now + ttl);
  return claims.dump();
}

}  // namespace clerkship::gateway
