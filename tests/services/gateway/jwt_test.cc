// Bearer-token verification: the algorithm is pinned, the signature, exp, nbf, iss and aud are
// checked, claims must describe a real caller, and the cache never outlives a token. Tokens
// are minted both by our signer and by cpp-jwt, an independent implementation, so a shared
// misunderstanding of JWS cannot make the tests pass.

#include "services/gateway/jwt.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <jwt/jwt.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status/status.h"

namespace clerkship::gateway {
namespace {

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef-test";
const absl::Time kNow = absl::FromUnixSeconds(1800000000);

struct KeyPair {
  std::string public_pem;
  std::string private_pem;
};

KeyPair Generate(const char* type) {
  EVP_PKEY* key = std::string(type) == "RSA"
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  KeyPair pair;
  BIO* pub = BIO_new(BIO_s_mem());
  BIO* priv = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(pub, key);
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data;
  long n = BIO_get_mem_data(pub, &data);
  pair.public_pem.assign(data, n);
  n = BIO_get_mem_data(priv, &data);
  pair.private_pem.assign(data, n);
  BIO_free(pub);
  BIO_free(priv);
  EVP_PKEY_free(key);
  return pair;
}

const KeyPair& Rsa() {
  static const KeyPair* k = new KeyPair(Generate("RSA"));
  return *k;
}
const KeyPair& Ec() {
  static const KeyPair* k = new KeyPair(Generate("EC"));
  return *k;
}

// cpp-jwt signs with the wall clock's types; times are given as plain numbers.
std::string CppJwtToken(const std::string& alg, const std::string& key, int64_t exp,
                        const std::string& sub = "applicants/a1",
                        const std::string& role = "applicant") {
  using namespace jwt::params;
  jwt::jwt_object obj{algorithm(alg), payload({{"sub", sub}, {"role", role}}), secret(key)};
  obj.add_claim("exp", exp);
  obj.add_claim("iss", "clerkship");
  obj.add_claim("aud", "clerkship-api");
  return obj.signature();
}

std::string Claims(int64_t exp, const std::string& extra = "") {
  return absl::StrCat(R"({"sub":"applicants/a1","role":"applicant","iss":"clerkship",)",
                      R"("aud":"clerkship-api","exp":)", exp, extra, "}");
}

class JwtTest : public ::testing::Test {
 protected:
  std::unique_ptr<JwtVerifier> Verifier(JwtAlgorithm alg, size_t cache = 0) {
    JwtVerifierOptions o;
    o.algorithm = alg;
    o.secret = kSecret;
    if (alg == JwtAlgorithm::kRS256) o.public_key_pem = Rsa().public_pem;
    if (alg == JwtAlgorithm::kES256) o.public_key_pem = Ec().public_pem;
    o.issuer = "clerkship";
    o.audience = "clerkship-api";
    o.leeway = absl::Seconds(30);
    o.cache_capacity = cache;
    o.cache_ttl = absl::Seconds(60);
    auto v = JwtVerifier::Create(o, &clock_);
    EXPECT_TRUE(v.ok()) << v.status();
    return *std::move(v);
  }
  std::string Hs(const std::string& claims) {
    JwtSigningKey key;
    key.secret = kSecret;
    return *SignJwt(key, claims);
  }
  static std::string Reason(const absl::StatusOr<Principal>& p) {
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
    return ErrorReasonOf(p.status());
  }

  ManualClock clock_{kNow};
  const int64_t now_ = absl::ToUnixSeconds(kNow);
};

TEST_F(JwtTest, AcceptsValidTokensOfEachAlgorithmFromAnIndependentSigner) {
  auto hs = Verifier(JwtAlgorithm::kHS256)->Verify(CppJwtToken("HS256", kSecret, now_ + 600));
  ASSERT_TRUE(hs.ok()) << hs.status();
  EXPECT_EQ(hs->subject, "applicants/a1");
  EXPECT_EQ(hs->role, "applicant");
  auto rs =
      Verifier(JwtAlgorithm::kRS256)->Verify(CppJwtToken("RS256", Rsa().private_pem, now_ + 600));
  EXPECT_TRUE(rs.ok()) << rs.status();
  auto es =
      Verifier(JwtAlgorithm::kES256)->Verify(CppJwtToken("ES256", Ec().private_pem, now_ + 600));
  EXPECT_TRUE(es.ok()) << es.status();
}

TEST_F(JwtTest, OurSignerProducesTokensTheVerifierAccepts) {
  for (JwtAlgorithm alg : {JwtAlgorithm::kHS256, JwtAlgorithm::kRS256, JwtAlgorithm::kES256}) {
    JwtSigningKey key;
    key.algorithm = alg;
    key.secret = kSecret;
    key.private_key_pem = alg == JwtAlgorithm::kRS256 ? Rsa().private_pem : Ec().private_pem;
    std::string claims = TokenClaimsJson("coordinators/c1", "coordinator", "sites/mercy",
                                         "clerkship", "clerkship-api", kNow, absl::Hours(1));
    auto token = SignJwt(key, claims);
    ASSERT_TRUE(token.ok());
    auto p = Verifier(alg)->Verify(*token);
    ASSERT_TRUE(p.ok()) << JwtAlgorithmName(alg) << ": " << p.status();
    EXPECT_EQ(p->site, "sites/mercy");
    EXPECT_EQ(p->expires, kNow + absl::Hours(1));
  }
}

TEST_F(JwtTest, ExpiryAndNotBeforeWithLeeway) {
  auto v = Verifier(JwtAlgorithm::kHS256);
  EXPECT_EQ(Reason(v->Verify(Hs(Claims(now_ - 31)))), "TOKEN_EXPIRED");
  EXPECT_TRUE(v->Verify(Hs(Claims(now_ - 29))).ok());  // within the leeway
  EXPECT_EQ(Reason(v->Verify(Hs(Claims(now_ + 600, absl::StrCat(",\"nbf\":", now_ + 31))))),
            "TOKEN_NOT_YET_VALID");
  EXPECT_TRUE(v->Verify(Hs(Claims(now_ + 600, absl::StrCat(",\"nbf\":", now_ + 29)))).ok());
  EXPECT_EQ(
      Reason(v->Verify(Hs(
          R"({"sub":"applicants/a1","role":"applicant","iss":"clerkship","aud":"clerkship-api"})"))),
      "TOKEN_CLAIMS_INVALID");  // no exp at all
  EXPECT_EQ(Reason(v->Verify(Hs(Claims(now_ + 600, ",\"nbf\":\"soon\"")))), "TOKEN_CLAIMS_INVALID");
}

TEST_F(JwtTest, IssuerAndAudienceMustMatch) {
  auto v = Verifier(JwtAlgorithm::kHS256);
  EXPECT_EQ(
      Reason(v->Verify(Hs(absl::StrCat(
          R"({"sub":"applicants/a1","role":"applicant","iss":"evil","aud":"clerkship-api","exp":)",
          now_ + 600, "}")))),
      "TOKEN_ISSUER_MISMATCH");
  EXPECT_EQ(
      Reason(v->Verify(Hs(absl::StrCat(
          R"({"sub":"applicants/a1","role":"applicant","iss":"clerkship","aud":"other","exp":)",
          now_ + 600, "}")))),
      "TOKEN_AUDIENCE_MISMATCH");
  EXPECT_EQ(Reason(v->Verify(Hs(absl::StrCat(
                R"({"sub":"applicants/a1","role":"applicant","iss":"clerkship","exp":)", now_ + 600,
                "}")))),
            "TOKEN_AUDIENCE_MISMATCH");  // missing
  // An audience list containing ours is fine.
  EXPECT_TRUE(
      v->Verify(Hs(absl::StrCat(R"({"sub":"applicants/a1","role":"applicant","iss":"clerkship",)",
                                R"("aud":["x","clerkship-api"],"exp":)", now_ + 600, "}")))
          .ok());
}

TEST_F(JwtTest, AlgNoneIsRejected) {
  std::string token = absl::StrCat(Base64UrlEncode(R"({"alg":"none","typ":"JWT"})"), ".",
                                   Base64UrlEncode(Claims(now_ + 600)), ".");
  EXPECT_EQ(Reason(Verifier(JwtAlgorithm::kHS256)->Verify(token)), "TOKEN_ALGORITHM_NOT_ALLOWED");
  std::string no_alg = absl::StrCat(Base64UrlEncode(R"({"typ":"JWT"})"), ".",
                                    Base64UrlEncode(Claims(now_ + 600)), ".");
  EXPECT_EQ(Reason(Verifier(JwtAlgorithm::kHS256)->Verify(no_alg)), "TOKEN_ALGORITHM_NOT_ALLOWED");
}

TEST_F(JwtTest, AnotherAlgorithmIsRejectedEvenWhenItsSignatureIsRight) {
  // The classic confusion attack: HMAC-sign with the RSA public key as the secret.
  std::string confused = CppJwtToken("HS256", Rsa().public_pem, now_ + 600, "admins/root", "admin");
  EXPECT_EQ(Reason(Verifier(JwtAlgorithm::kRS256)->Verify(confused)),
            "TOKEN_ALGORITHM_NOT_ALLOWED");
  EXPECT_EQ(Reason(Verifier(JwtAlgorithm::kES256)
                       ->Verify(CppJwtToken("RS256", Rsa().private_pem, now_ + 600))),
            "TOKEN_ALGORITHM_NOT_ALLOWED");
  EXPECT_EQ(
      Reason(Verifier(JwtAlgorithm::kHS256)->Verify(CppJwtToken("HS512", kSecret, now_ + 600))),
      "TOKEN_ALGORITHM_NOT_ALLOWED");
}

TEST_F(JwtTest, BadSignaturesAreRejected) {
  auto hs = Verifier(JwtAlgorithm::kHS256);
  std::string token = Hs(Claims(now_ + 600));
  // Another payload under the original signature.
  std::vector<std::string> parts = absl::StrSplit(token, '.');
  std::string forged = absl::StrCat(
      parts[0], ".",
      Base64UrlEncode(
          R"({"sub":"admins/root","role":"admin","iss":"clerkship","aud":"clerkship-api","exp":)" +
          std::to_string(now_ + 600) + "}"),
      ".", parts[2]);
  EXPECT_EQ(Reason(hs->Verify(forged)), "TOKEN_SIGNATURE_INVALID");
  EXPECT_EQ(
      Reason(hs->Verify(CppJwtToken("HS256", "another-secret-of-32-bytes-or-more!", now_ + 600))),
      "TOKEN_SIGNATURE_INVALID");
  // A truncated signature.
  EXPECT_EQ(Reason(hs->Verify(token.substr(0, token.size() - 4))), "TOKEN_SIGNATURE_INVALID");
  // RS256/ES256 signed by another key.
  KeyPair other_ec = Generate("EC");
  EXPECT_EQ(Reason(Verifier(JwtAlgorithm::kES256)
                       ->Verify(CppJwtToken("ES256", other_ec.private_pem, now_ + 600))),
            "TOKEN_SIGNATURE_INVALID");
  std::string es = CppJwtToken("ES256", Ec().private_pem, now_ + 600);
  EXPECT_EQ(Reason(Verifier(JwtAlgorithm::kES256)->Verify(es + "AA")), "TOKEN_SIGNATURE_INVALID");
}

TEST_F(JwtTest, MalformedTokensAreRejected) {
  auto v = Verifier(JwtAlgorithm::kHS256);
  for (const std::string& token :
       {std::string(""), std::string("abc"), std::string("a.b"), std::string("a.b.c.d"),
        std::string("!!.??.**"), std::string(9000, 'a'),
        absl::StrCat(Base64UrlEncode("not json"), ".", Base64UrlEncode("{}"), ".sig"),
        absl::StrCat(Base64UrlEncode("[]"), ".", Base64UrlEncode("{}"), ".sig"),
        absl::StrCat(Base64UrlEncode(R"({"alg":"HS256"})"), "=.", Base64UrlEncode("{}"), ".x")}) {
    auto p = v->Verify(token);
    EXPECT_FALSE(p.ok()) << token;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  }
  // Critical header extensions we do not understand.
  JwtSigningKey key;
  key.secret = kSecret;
  std::string signing_input =
      absl::StrCat(Base64UrlEncode(R"({"alg":"HS256","crit":["exp-ext"],"exp-ext":1})"), ".",
                   Base64UrlEncode(Claims(now_ + 600)));
  EXPECT_FALSE(v->Verify(signing_input + ".x").ok());
}

TEST_F(JwtTest, ClaimsMustDescribeARealCaller) {
  auto v = Verifier(JwtAlgorithm::kHS256);
  auto with = [&](const std::string& identity) {
    return Hs(absl::StrCat(R"({"iss":"clerkship","aud":"clerkship-api","exp":)", now_ + 600, ",",
                           identity, "}"));
  };
  EXPECT_EQ(Reason(v->Verify(with(R"("sub":"admins/1","role":"applicant")"))),
            "TOKEN_CLAIMS_INVALID");
  EXPECT_EQ(Reason(v->Verify(with(R"("sub":"services/x","role":"service")"))),
            "TOKEN_CLAIMS_INVALID");
  EXPECT_EQ(Reason(v->Verify(with(R"("sub":"applicants/A B","role":"applicant")"))),
            "TOKEN_CLAIMS_INVALID");
  EXPECT_EQ(Reason(v->Verify(with(R"("sub":"coordinators/c1","role":"coordinator")"))),
            "TOKEN_CLAIMS_INVALID");  // no site
  EXPECT_EQ(Reason(v->Verify(with(R"("sub":"applicants/a1")"))), "TOKEN_CLAIMS_INVALID");
  auto coordinator =
      v->Verify(with(R"("sub":"coordinators/c1","role":"coordinator","site":"sites/s1")"));
  ASSERT_TRUE(coordinator.ok());
  EXPECT_EQ(coordinator->site, "sites/s1");
  // A site claim means nothing for an applicant.
  auto applicant = v->Verify(with(R"("sub":"applicants/a1","role":"applicant","site":"sites/s1")"));
  ASSERT_TRUE(applicant.ok());
  EXPECT_EQ(applicant->site, "");
}

TEST_F(JwtTest, CacheRemembersTokensButNeverPastTheirExpiry) {
  auto v = Verifier(JwtAlgorithm::kHS256, /*cache=*/100);
  std::string token = Hs(Claims(now_ + 10));
  ASSERT_TRUE(v->Verify(token).ok());
  EXPECT_EQ(v->cache_size_for_testing(), 1u);
  ASSERT_TRUE(v->Verify(token).ok());
  clock_.Advance(absl::Seconds(41));  // exp + leeway has passed
  EXPECT_EQ(Reason(v->Verify(token)), "TOKEN_EXPIRED");
  // Failures are not cached as successes; a bad token stays bad on every try.
  std::string bad = token.substr(0, token.size() - 1) + (token.back() == 'A' ? "B" : "A");
  EXPECT_FALSE(v->Verify(bad).ok());
  EXPECT_FALSE(v->Verify(bad).ok());
}

TEST_F(JwtTest, CacheIsBounded) {
  auto v = Verifier(JwtAlgorithm::kHS256, /*cache=*/10);
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(v->Verify(Hs(Claims(now_ + 600 + i))).ok());
    EXPECT_LE(v->cache_size_for_testing(), 10u);
  }
}

TEST(JwtVerifierCreate, RefusesWeakOrWrongKeys) {
  JwtVerifierOptions o;
  o.secret = "short";
  EXPECT_FALSE(JwtVerifier::Create(o, Clock::Real()).ok());
  o.algorithm = JwtAlgorithm::kRS256;
  o.public_key_pem = "not a key";
  EXPECT_FALSE(JwtVerifier::Create(o, Clock::Real()).ok());
  o.public_key_pem = Ec().public_pem;  // an EC key for RS256
  EXPECT_FALSE(JwtVerifier::Create(o, Clock::Real()).ok());
  o.algorithm = JwtAlgorithm::kES256;
  EXPECT_TRUE(JwtVerifier::Create(o, Clock::Real()).ok());
  o.public_key_pem = Rsa().public_pem;  // an RSA key for ES256
  EXPECT_FALSE(JwtVerifier::Create(o, Clock::Real()).ok());
}

TEST(Base64Url, RoundTripsAndRejectsPaddingAndOtherAlphabets) {
  std::string out;
  for (const std::string& data : {std::string(""), std::string("f"), std::string("fo"),
                                  std::string("foo"), std::string("\xFF\xFE\xFD")}) {
    ASSERT_TRUE(Base64UrlDecode(Base64UrlEncode(data), &out));
    EXPECT_EQ(out, data);
  }
  EXPECT_FALSE(Base64UrlDecode("Zg==", &out));
  EXPECT_FALSE(Base64UrlDecode("a+b/", &out));
  EXPECT_FALSE(Base64UrlDecode("a", &out));
}

}  // namespace
}  // namespace clerkship::gateway
