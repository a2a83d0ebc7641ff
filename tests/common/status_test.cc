#include "common/status/status.h"

#include <gtest/gtest.h>

#include "common/status/validation.h"

namespace clerkship {
namespace {

TEST(StatusMapping, FieldViolationsSurviveTheGrpcRoundTrip) {
  absl::Status s = InvalidArgumentError({{"site.usState", "must be a two-letter US state code"},
                                         {"site.displayName", "is required"}});
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(g.error_message().find("site.usState"), std::string::npos);
  ASSERT_FALSE(g.error_details().empty());

  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
  EXPECT_EQ(rpc.code(), 3);
  ASSERT_EQ(rpc.details_size(), 1);
  google::rpc::BadRequest bad;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&bad));
  ASSERT_EQ(bad.field_violations_size(), 2);
  EXPECT_EQ(bad.field_violations(0).field(), "site.usState");

  absl::Status back = FromGrpcStatus(g);
  EXPECT_EQ(back.code(), absl::StatusCode::kInvalidArgument);
  auto violations = FieldViolationsOf(back);
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[1].field, "site.displayName");
  EXPECT_EQ(violations[1].description, "is required");
}

TEST(StatusMapping, PreconditionFailureCarriesEveryViolationAndAReason) {
  absl::Status s = PreconditionFailedError(
      "documents missing",
      {{"DOCUMENT_MISSING", "documentKinds/PASSPORT", "a passport is required"},
       {"DOCUMENT_EXPIRED", "applicants/a1/documents/d2", "expires before the session ends"}},
      "DOCUMENTS_INCOMPLETE", "clerkship.applicant");
  absl::Status back = FromGrpcStatus(ToGrpcStatus(s));
  EXPECT_EQ(back.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReasonOf(back), "DOCUMENTS_INCOMPLETE");
  auto v = PreconditionViolationsOf(back);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].subject, "documentKinds/PASSPORT");
  EXPECT_EQ(v[1].type, "DOCUMENT_EXPIRED");
}

TEST(StatusMapping, ErrorInfoAndPlainStatuses) {
  absl::Status s = ErrorWithInfo(absl::StatusCode::kResourceExhausted, "no seats left",
                                 "NO_SEATS", "clerkship.catalog");
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ErrorReasonOf(FromGrpcStatus(g)), "NO_SEATS");

  grpc::Status plain = ToGrpcStatus(absl::NotFoundError("rotation rotations/x not found"));
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(plain.error_details().empty());
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")).code(),
            absl::StatusCode::kUnavailable);
}

TEST(Validation, CollectsEveryProblemWithItsField) {
  Validator v;
  v.RequireNonEmpty("site.displayName", "  ");
  v.RequireUsState("site.usState", "XX");
  v.RequireDate("session.startDate", "2027-02-30");
  v.RequireEmail("applicant.email", "not-an-email");
  v.RequireName("parent", "rotations/", "rotations");
  v.RequireRange("session.capacity", 0, 1, 500);
  v.RequireLength("site.city", std::string("\xff\xfe"), 1, 10);
  EXPECT_FALSE(v.ok());
  auto fields = FieldViolationsOf(v.Finish());
  std::vector<std::string> names;
  for (const auto& f : fields) names.push_back(f.field);
  EXPECT_EQ(names, (std::vector<std::string>{"site.displayName", "site.usState",
                                             "session.startDate", "applicant.email", "parent",
                                             "session.capacity", "site.city"}));
}

TEST(Validation, AcceptsGoodValues) {
  Validator v;
  v.RequireNonEmpty("a", "x");
  v.RequireUsState("b", "NY");
  v.RequireDate("c", "2028-02-29");
  v.RequireEmail("d", "ana.silva@example.org");
  v.RequireName("e", "rotations/im-101", "rotations");
  v.RequireLength("f", "São Paulo", 1, 64);
  EXPECT_TRUE(v.ok());
  EXPECT_TRUE(v.Finish().ok());
}

TEST(Validation, Dates) {
  EXPECT_TRUE(IsValidDate("2027-12-31"));
  EXPECT_TRUE(IsValidDate("2024-02-29"));
  EXPECT_FALSE(IsValidDate("2100-02-29"));
  EXPECT_FALSE(IsValidDate("2027-13-01"));
  EXPECT_FALSE(IsValidDate("2027-1-01"));
  EXPECT_FALSE(IsValidDate("27-01-01xx"));
  EXPECT_FALSE(IsValidDate("2027-01-+1"));
  EXPECT_FALSE(IsValidDate(""));
}

TEST(Validation, TimeZonesFromClients) {
  absl::TimeZone tz;
  EXPECT_TRUE(LoadClientTimeZone("America/New_York", &tz));
  EXPECT_EQ(tz.name(), "America/New_York");
  EXPECT_TRUE(LoadClientTimeZone("Etc/GMT+5", &tz));
  EXPECT_FALSE(LoadClientTimeZone("Mars/Olympus_Mons", &tz));  // well formed, unknown
  EXPECT_FALSE(LoadClientTimeZone("", &tz));
  EXPECT_FALSE(LoadClientTimeZone("../../etc/passwd", &tz));
  EXPECT_FALSE(LoadClientTimeZone("/usr/share/zoneinfo/UTC", &tz));
  EXPECT_FALSE(LoadClientTimeZone("America/New York", &tz));
  EXPECT_FALSE(LoadClientTimeZone(std::string(65, 'A'), &tz));
}

TEST(Validation, Utf8AndIds) {
  EXPECT_TRUE(IsValidUtf8("Zürich – 東京"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("abc\xe2\x82"));       // truncated
  EXPECT_TRUE(IsValidResourceId("abc-123"));
  EXPECT_FALSE(IsValidResourceId("ABC"));
  EXPECT_FALSE(IsValidResourceId("a/b"));
  EXPECT_EQ(ResourceId("sites/s-1", "sites"), "s-1");
  EXPECT_EQ(ResourceId("rotations/s-1", "sites"), "");
}

}  // namespace
}  // namespace clerkship
