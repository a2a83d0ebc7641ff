// gRPC status → HTTP status and the JSON error body with the google.rpc details decoded from
// grpc-status-details-bin; request deadlines from headers; the rate limiter.

#include "services/gateway/http_errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/status/status.h"
#include "services/gateway/gateway.h"
#include "services/gateway/rate_limiter.h"

namespace clerkship::gateway {
namespace {

using ::testing::HasSubstr;

TEST(HttpStatusFor, MapsEveryGrpcCode) {
  const std::pair<absl::StatusCode, int> table[] = {
      {absl::StatusCode::kOk, 200},
      {absl::StatusCode::kCancelled, 499},
      {absl::StatusCode::kUnknown, 500},
      {absl::StatusCode::kInvalidArgument, 400},
      {absl::StatusCode::kDeadlineExceeded, 504},
      {absl::StatusCode::kNotFound, 404},
      {absl::StatusCode::kAlreadyExists, 409},
      {absl::StatusCode::kPermissionDenied, 403},
      {absl::StatusCode::kResourceExhausted, 429},
      {absl::StatusCode::kFailedPrecondition, 412},
      {absl::StatusCode::kAborted, 409},
      {absl::StatusCode::kOutOfRange, 400},
      {absl::StatusCode::kUnimplemented, 501},
      {absl::StatusCode::kInternal, 500},
      {absl::StatusCode::kUnavailable, 503},
      {absl::StatusCode::kDataLoss, 500},
      {absl::StatusCode::kUnauthenticated, 401},
  };
  for (const auto& [code, http] : table) {
    EXPECT_EQ(HttpStatusFor(code), http) << absl::StatusCodeToString(code);
  }
}

TEST(ErrorFromGrpc, CarriesTheServiceDetailsAsJsonWithTypes) {
  absl::Status status = PreconditionFailedError(
      "documents are not ready", {{"DOCUMENT_MISSING", "PASSPORT", "no passport on file"}},
      "DOCUMENTS_NOT_READY", "clerkship.applicant");
  HttpError e = ErrorFromGrpc(ToGrpcStatus(status));
  EXPECT_EQ(e.http_status, 412);
  nlohmann::json body = nlohmann::json::parse(e.body);
  EXPECT_EQ(body["error"]["code"], 412);
  EXPECT_EQ(body["error"]["status"], "FAILED_PRECONDITION");
  EXPECT_EQ(body["error"]["message"], "documents are not ready");
  bool saw_failure = false, saw_info = false;
  for (const auto& d : body["error"]["details"]) {
    if (d["@type"] == "type.googleapis.com/google.rpc.PreconditionFailure") {
      saw_failure = true;
      EXPECT_EQ(d["violations"][0]["type"], "DOCUMENT_MISSING");
      EXPECT_EQ(d["violations"][0]["subject"], "PASSPORT");
    }
    if (d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo") {
      saw_info = true;
      EXPECT_EQ(d["reason"], "DOCUMENTS_NOT_READY");
      EXPECT_EQ(d["domain"], "clerkship.applicant");
    }
  }
  EXPECT_TRUE(saw_failure);
  EXPECT_TRUE(saw_info);
}

TEST(ErrorFromGrpc, BadRequestFieldViolations) {
  HttpError e = ErrorFromGrpc(ToGrpcStatus(InvalidArgumentError(
      {{"site.display_name", "is required"}, {"site.us_state", "must be a state code"}})));
  EXPECT_EQ(e.http_status, 400);
  nlohmann::json body = nlohmann::json::parse(e.body);
  const auto& d = body["error"]["details"][0];
  EXPECT_EQ(d["@type"], "type.googleapis.com/google.rpc.BadRequest");
  EXPECT_EQ(d["fieldViolations"].size(), 2u);
  EXPECT_EQ(d["fieldViolations"][1]["field"], "site.us_state");
}

TEST(ErrorFromGrpc, TransportFailuresDoNotLeakInternalAddresses) {
  grpc::Status down(grpc::StatusCode::UNAVAILABLE,
                    "failed to connect to all addresses; last error: ipv4:10.1.2.3:50052");
  HttpError e = ErrorFromGrpc(down);
  EXPECT_EQ(e.http_status, 503);
  EXPECT_THAT(e.body, ::testing::Not(HasSubstr("10.1.2.3")));
  HttpError internal = ErrorFromGrpc(grpc::Status(grpc::StatusCode::INTERNAL, "stack trace here"));
  EXPECT_EQ(internal.http_status, 500);
  EXPECT_THAT(internal.body, ::testing::Not(HasSubstr("stack trace")));
  // A service's own message (with details) is passed through.
  HttpError not_found = ErrorFromGrpc(ToGrpcStatus(ErrorWithInfo(
      absl::StatusCode::kNotFound, "site not found", "SITE_NOT_FOUND", "clerkship.catalog")));
  EXPECT_EQ(not_found.http_status, 404);
  EXPECT_THAT(not_found.body, HasSubstr("site not found"));
}

TEST(ErrorFromGrpc, UnknownDetailTypesStillNameTheirType) {
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(grpc::StatusCode::ABORTED));
  rpc.set_message("stale");
  auto* any = rpc.add_details();
  any->set_type_url("type.googleapis.com/some.unknown.Detail");
  any->set_value("\x08\x01");
  HttpError e =
      ErrorFromGrpc(grpc::Status(grpc::StatusCode::ABORTED, "stale", rpc.SerializeAsString()));
  EXPECT_EQ(e.http_status, 409);
  nlohmann::json body = nlohmann::json::parse(e.body);
  EXPECT_EQ(body["error"]["details"][0]["@type"], "type.googleapis.com/some.unknown.Detail");
}

TEST(ErrorJson, InvalidUtf8InMessagesStillMakesValidJson) {
  std::string body = ErrorJson(400, absl::StatusCode::kInvalidArgument, "bad \xFF value", nullptr);
  EXPECT_FALSE(nlohmann::json::parse(body, nullptr, false).is_discarded());
}

TEST(RequestTimeout, FromHeadersClampedToTheMaximum) {
  const absl::Duration def = absl::Seconds(10), max = absl::Seconds(60);
  EXPECT_EQ(*ParseRequestTimeout("", "", def, max), def);
  EXPECT_EQ(*ParseRequestTimeout("2.5", "", def, max), absl::Milliseconds(2500));
  EXPECT_EQ(*ParseRequestTimeout("250ms", "", def, max), absl::Milliseconds(250));
  EXPECT_EQ(*ParseRequestTimeout("3600", "", def, max), max);
  EXPECT_EQ(*ParseRequestTimeout("", "250m", def, max), absl::Milliseconds(250));
  EXPECT_EQ(*ParseRequestTimeout("", "2S", def, max), absl::Seconds(2));
  EXPECT_EQ(*ParseRequestTimeout("", "1H", def, max), max);
  EXPECT_EQ(*ParseRequestTimeout("", "100u", def, max), absl::Microseconds(100));
  for (auto [x, g] : std::vector<std::pair<const char*, const char*>>{{"soon", ""},
                                                                      {"-1", ""},
                                                                      {"0", ""},
                                                                      {"nan", ""},
                                                                      {"", "5"},
                                                                      {"", "5x"},
                                                                      {"", "123456789S"},
                                                                      {"", "-5S"}}) {
    auto t = ParseRequestTimeout(x, g, def, max);
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << x << "|" << g;
  }
}

TEST(RateLimiter, BurstThenSteadyRatePerKey) {
  ManualClock clock(absl::FromUnixSeconds(1000));
  RateLimiter limiter(/*rate_per_second=*/2, /*burst=*/3, &clock);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("sub:a"), absl::ZeroDuration());
  absl::Duration wait = limiter.Acquire("sub:a");
  EXPECT_GT(wait, absl::ZeroDuration());
  EXPECT_LE(wait, absl::Milliseconds(500));
  // Another client is not affected.
  EXPECT_EQ(limiter.Acquire("ip:10.0.0.1"), absl::ZeroDuration());
  clock.Advance(absl::Milliseconds(500));  // one token back at 2/s
  EXPECT_EQ(limiter.Acquire("sub:a"), absl::ZeroDuration());
  EXPECT_GT(limiter.Acquire("sub:a"), absl::ZeroDuration());
  clock.Advance(absl::Hours(1));  // refills to the burst, not beyond
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("sub:a"), absl::ZeroDuration());
  EXPECT_GT(limiter.Acquire("sub:a"), absl::ZeroDuration());
}

TEST(RateLimiter, DisabledAndBoundedInMemory) {
  ManualClock clock(absl::FromUnixSeconds(1000));
  RateLimiter off(0, 1, &clock);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(off.Acquire("k"), absl::ZeroDuration());
  // Many distinct clients do not make the limiter forget an active one's debt forever, and
  // memory stays bounded (max_keys); this mostly checks it keeps working.
  RateLimiter small(1, 1, &clock, /*max_keys=*/32);
  for (int i = 0; i < 10000; ++i) small.Acquire(absl::StrCat("ip:", i));
  EXPECT_EQ(small.Acquire("fresh"), absl::ZeroDuration());
  EXPECT_GT(small.Acquire("fresh"), absl::ZeroDuration());
}

}  // namespace
}  // namespace clerkship::gateway
