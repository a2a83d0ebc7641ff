// Page tokens: opaque, authenticated, and bound to the request (and caller) they came from.

#include "common/util/page_token.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace clerkship {
namespace {

class PageTokenTest : public ::testing::Test {
 protected:
  void SetUp() override { SetPageTokenSecretForTesting("unit-test-secret-0123456789abcdef"); }
  void TearDown() override { SetPageTokenSecretForTesting(""); }
};

// The fields named by the status's BadRequest details.
std::set<std::string> Fields(const absl::Status& s) {
  std::set<std::string> out;
  for (const auto& v : FieldViolationsOf(s)) out.insert(v.field);
  return out;
}

TEST_F(PageTokenTest, RoundTripsThePosition) {
  uint64_t fp = Fingerprint("applications|applicants/ana");
  std::string token = EncodePageToken({fp, "app-0042"});
  absl::StatusOr<PageCursor> cursor = DecodePageToken(token, fp);
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  EXPECT_EQ(cursor->position, "app-0042");
  EXPECT_EQ(cursor->fingerprint, fp);
  // Positions may contain the separator and arbitrary bytes.
  std::string odd("a:b:\0c\xff", 7);
  cursor = DecodePageToken(EncodePageToken({fp, odd}), fp);
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  EXPECT_EQ(cursor->position, odd);
}

TEST_F(PageTokenTest, TokenOfOneCallerIsRefusedForAnother) {
  const std::string filters = "applications||||||create_time desc";
  uint64_t ana = CallerFingerprint(filters, "applicants/ana");
  uint64_t bob = CallerFingerprint(filters, "applicants/bob");
  ASSERT_NE(ana, bob);
  absl::StatusOr<PageCursor> replayed = DecodePageToken(EncodePageToken({ana, "x1"}), bob);
  EXPECT_EQ(replayed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fields(replayed.status()), std::set<std::string>{"page_token"});
  // The principal and the filters cannot be traded against each other.
  EXPECT_NE(CallerFingerprint("b|c", "a"), CallerFingerprint("c", "a|b"));
}

TEST_F(PageTokenTest, TokenForOtherFiltersIsRefused) {
  std::string token = EncodePageToken({Fingerprint("documents|applicants/ana|CV"), "d1"});
  absl::StatusOr<PageCursor> cursor =
      DecodePageToken(token, Fingerprint("documents|applicants/ana|PASSPORT"));
  EXPECT_EQ(Fields(cursor.status()), std::set<std::string>{"page_token"});
}

TEST_F(PageTokenTest, EveryAlteredByteIsDetected) {
  uint64_t fp = Fingerprint("notifications|applicants/ana|0");
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(EncodePageToken({fp, "n-100"}), &raw));
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string tampered = raw;
    tampered[i] ^= 0x01;
    absl::StatusOr<PageCursor> cursor =
        DecodePageToken(absl::WebSafeBase64Escape(tampered), fp);
    EXPECT_EQ(cursor.status().code(), absl::StatusCode::kInvalidArgument) << "byte " << i;
    EXPECT_EQ(Fields(cursor.status()), std::set<std::string>{"page_token"});
  }
  // Truncated and extended tokens too.
  EXPECT_FALSE(DecodePageToken(absl::WebSafeBase64Escape(raw.substr(0, raw.size() - 1)), fp).ok());
  EXPECT_FALSE(DecodePageToken(absl::WebSafeBase64Escape(raw + "0"), fp).ok());
}

TEST_F(PageTokenTest, ForgedTokensWithoutTheSecretAreRefused) {
  uint64_t fp = Fingerprint("sites");
  // The old, unauthenticated format: what a client could build by hand.
  std::string unsigned_token =
      absl::WebSafeBase64Escape(absl::StrCat("p1:", absl::Hex(fp), ":zzz"));
  EXPECT_EQ(Fields(DecodePageToken(unsigned_token, fp).status()),
            std::set<std::string>{"page_token"});
  // A token signed with another secret (another deployment, or a guess).
  SetPageTokenSecretForTesting("some-other-secret-0123456789abcdef");
  std::string foreign = EncodePageToken({fp, "zzz"});
  SetPageTokenSecretForTesting("unit-test-secret-0123456789abcdef");
  EXPECT_EQ(Fields(DecodePageToken(foreign, fp).status()), std::set<std::string>{"page_token"});
}

TEST_F(PageTokenTest, GarbageIsInvalidArgumentNamingPageToken) {
  uint64_t fp = Fingerprint("sites");
  for (std::string garbage : {std::string("not-a-token"), std::string("===="), std::string(""),
                              std::string("\0\xff", 2), std::string(5000, 'A'),
                              std::string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")}) {
    absl::StatusOr<PageCursor> cursor = DecodePageToken(garbage, fp);
    EXPECT_EQ(cursor.status().code(), absl::StatusCode::kInvalidArgument) << garbage.size();
    EXPECT_EQ(Fields(cursor.status()), std::set<std::string>{"page_token"});
  }
}

TEST_F(PageTokenTest, SecretDefaultsToTheEnvironment) {
  setenv("CLERKSHIP_PAGE_TOKEN_SECRET", "configured-secret-0123456789abcdef", 1);
  SetPageTokenSecretForTesting("");  // back to the default, read from the environment
  uint64_t fp = Fingerprint("sites");
  std::string token = EncodePageToken({fp, "s1"});
  // Another process with the same configured secret (a replica) accepts it.
  SetPageTokenSecretForTesting("configured-secret-0123456789abcdef");
  EXPECT_TRUE(DecodePageToken(token, fp).ok());
  unsetenv("CLERKSHIP_PAGE_TOKEN_SECRET");
}

TEST(PageSizeTest, ClampsAndRefusesNegative) {
  EXPECT_EQ(*PageSize(0), 20);
  EXPECT_EQ(*PageSize(7), 7);
  EXPECT_EQ(*PageSize(1 << 30), 100);
  EXPECT_EQ(Fields(PageSize(-1).status()), std::set<std::string>{"page_size"});
}

}  // namespace
}  // namespace clerkship
