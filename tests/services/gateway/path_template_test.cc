// The path template matcher and the route table, table-driven: what clients type in URLs
// (trailing slashes, percent-encoding, custom verbs, '**') and which RPC and field values they
// reach.

#include "services/gateway/path_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/gateway/fronted_services.h"
#include "services/gateway/route_table.h"
#include "testdata/gateway_test.pb.h"

namespace clerkship::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(PathTemplateParse, AcceptsTheGrammar) {
  for (const char* text : {"/v1/sites", "/v1/{name=sites/*}", "/v1/{name}", "/v1/{name=**}",
                           "/v1/{rotation.name=rotations/*}", "/v1/{name=rotations/*}:publish",
                           "/v1/{name=applicants/*/experience}", "/v1/*/x", "/v1/{p=files/**}",
                           "/v1/{parent=applicants/*}/notifications:stream", "/v1/a:b"}) {
    EXPECT_TRUE(PathTemplate::Parse(text).ok()) << text;
  }
}

TEST(PathTemplateParse, RejectsMalformedTemplates) {
  for (const char* text :
       {"", "v1/sites", "/v1//sites", "/v1/{name", "/v1/{name=sites/*", "/v1/{na me}",
        "/v1/{name=a/{b}}", "/v1/{1name}", "/v1/**/x", "/v1/{a=**}/{b=**}", "/v1/{a}/{a}",
        "/v1/sites:", "/v1/{a}x", "/v1/si*tes", "/v1/"}) {
    EXPECT_FALSE(PathTemplate::Parse(text).ok()) << text;
  }
}

TEST(PathTemplateParse, ExposesSegmentsVariablesAndVerb) {
  auto t = PathTemplate::Parse("/v1/{name=rotations/*/sessions/*}:publish");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->verb(), "publish");
  EXPECT_EQ(t->segments().size(), 5u);
  ASSERT_EQ(t->variables().size(), 1u);
  EXPECT_EQ(t->variables()[0].field_path, "name");
  EXPECT_EQ(t->variables()[0].first_segment, 1);
  EXPECT_EQ(t->variables()[0].end_segment, 5);
  EXPECT_EQ(t->literal_count(), 3);
}

struct MatchCase {
  const char* template_text;
  const char* path;
  bool matches;
  PathBindings bindings;
};

class PathTemplateMatch : public ::testing::TestWithParam<MatchCase> {};

TEST_P(PathTemplateMatch, Matches) {
  const MatchCase& c = GetParam();
  auto t = PathTemplate::Parse(c.template_text);
  ASSERT_TRUE(t.ok()) << c.template_text;
  PathBindings bindings;
  EXPECT_EQ(t->Match(c.path, &bindings), c.matches) << c.template_text << " vs " << c.path;
  if (c.matches) EXPECT_EQ(bindings, c.bindings) << c.path;
  if (!c.matches) EXPECT_TRUE(bindings.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, PathTemplateMatch,
    ::testing::Values(
        MatchCase{"/v1/sites", "/v1/sites", true, {}},
        MatchCase{"/v1/sites", "/v1/site", false, {}},
        MatchCase{"/v1/sites", "/v1/sites/x", false, {}},
        MatchCase{"/v1/{name=sites/*}", "/v1/sites/mercy", true, {{"name", "sites/mercy"}}},
        MatchCase{"/v1/{name=sites/*}", "/v1/sites/", false, {}},  // '*' is never empty
        MatchCase{"/v1/{name=sites/*}", "/v1/sites", false, {}},
        MatchCase{"/v1/{name=sites/*}", "/v1/rotations/x", false, {}},
        MatchCase{"/v1/{name=sites/*}", "/v1/sites/a/b", false, {}},
        // Multi-segment variables decode everything but %2F, which stays encoded.
        MatchCase{"/v1/{name=sites/*}", "/v1/sites/a%20b", true, {{"name", "sites/a b"}}},
        MatchCase{"/v1/{name=sites/*}", "/v1/sites/a%2Fb", true, {{"name", "sites/a%2Fb"}}},
        MatchCase{"/v1/{name=sites/*}", "/v1/sites/a%2fb", true, {{"name", "sites/a%2fb"}}},
        // Single-segment variables decode fully.
        MatchCase{"/v1/things/{name}", "/v1/things/a%2Fb", true, {{"name", "a/b"}}},
        MatchCase{"/v1/things/{name}", "/v1/things/caf%C3%A9", true, {{"name", "caf\xC3\xA9"}}},
        // Literals are compared after decoding.
        MatchCase{"/v1/sites", "/v1/%73ites", true, {}},
        MatchCase{"/v1/{rotation.name=rotations/*}",
                  "/v1/rotations/r1",
                  true,
                  {{"rotation.name", "rotations/r1"}}},
        MatchCase{"/v1/{name=rotations/*/sessions/*}",
                  "/v1/rotations/r1/sessions/s1",
                  true,
                  {{"name", "rotations/r1/sessions/s1"}}},
        MatchCase{"/v1/{name=applicants/*/experience}",
                  "/v1/applicants/a1/experience",
                  true,
                  {{"name", "applicants/a1/experience"}}},
        MatchCase{"/v1/{name=applicants/*/experience}", "/v1/applicants/a1/documents", false, {}},
        // Custom verbs.
        MatchCase{"/v1/{name=rotations/*}:publish",
                  "/v1/rotations/r1:publish",
                  true,
                  {{"name", "rotations/r1"}}},
        MatchCase{"/v1/{name=rotations/*}:publish", "/v1/rotations/r1:archive", false, {}},
        MatchCase{"/v1/{name=rotations/*}:publish", "/v1/rotations/r1", false, {}},
        MatchCase{"/v1/{name=rotations/*}:publish", "/v1/rotations/:publish", false, {}},
        MatchCase{"/v1/{parent=applicants/*}/notifications:stream",
                  "/v1/applicants/a1/notifications:stream",
                  true,
                  {{"parent", "applicants/a1"}}},
        // Without a verb in the template, a colon is just part of the value.
        MatchCase{"/v1/{name=rotations/*}",
                  "/v1/rotations/r1:publish",
                  true,
                  {{"name", "rotations/r1:publish"}}},
        // '**' takes zero or more segments.
        MatchCase{"/v1/{path=files/**}", "/v1/files", true, {{"path", "files"}}},
        MatchCase{"/v1/{path=files/**}", "/v1/files/a", true, {{"path", "files/a"}}},
        MatchCase{"/v1/{path=files/**}", "/v1/files/a/b/c", true, {{"path", "files/a/b/c"}}},
        MatchCase{"/v1/{path=files/**}", "/v1/files/a//c", false, {}},
        MatchCase{"/v1/{path=files/**}", "/v1/other/a", false, {}},
        MatchCase{"/v1/{name=**}", "/v1/x/y", true, {{"name", "x/y"}}},
        // Anonymous wildcards match but bind nothing.
        MatchCase{"/v1/*/things", "/v1/s1/things", true, {}},
        MatchCase{"/v1/*/things", "/v1//things", false, {}}));

TEST(PercentDecoding, HandlesEscapesAndRejectsBrokenOnes) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%20b%2Fc", false, &out));
  EXPECT_EQ(out, "a b/c");
  EXPECT_TRUE(PercentDecode("a%2Fb", true, &out));
  EXPECT_EQ(out, "a%2Fb");
  EXPECT_FALSE(PercentDecode("%", false, &out));
  EXPECT_FALSE(PercentDecode("%2", false, &out));
  EXPECT_FALSE(PercentDecode("%zz", false, &out));
  EXPECT_TRUE(QueryDecode("a+b%2B", &out));
  EXPECT_EQ(out, "a b+");
  EXPECT_TRUE(IsValidPercentEncoding("/v1/a%20b"));
  EXPECT_FALSE(IsValidPercentEncoding("/v1/a%2"));
  EXPECT_FALSE(IsValidPercentEncoding("/v1/a%g0"));
}

// --- the route table over the real platform protos ---------------------------------------

class PlatformRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    auto table = RouteTable::Build(FrontedServices({"clerkship.catalog.v1.CatalogService"}));
    ASSERT_TRUE(table.ok()) << table.status();
    table_ = *std::move(table);
  }
  std::unique_ptr<RouteTable> table_;
};

struct RouteCase {
  const char* method;
  const char* path;
  RouteMatch::Outcome outcome;
  const char* rpc;  // for kFound
  PathBindings bindings;
};

TEST_F(PlatformRoutes, EveryRestCallOfTheDesignReachesItsRpc) {
  using O = RouteMatch::Outcome;
  const RouteCase cases[] = {
      {"GET", "/v1/sites", O::kFound, "/clerkship.catalog.v1.CatalogService/ListSites", {}},
      {"GET", "/v1/sites/", O::kFound, "/clerkship.catalog.v1.CatalogService/ListSites", {}},
      {"POST", "/v1/sites", O::kFound, "/clerkship.catalog.v1.CatalogService/CreateSite", {}},
      {"GET",
       "/v1/sites/s1",
       O::kFound,
       "/clerkship.catalog.v1.CatalogService/GetSite",
       {{"name", "sites/s1"}}},
      {"GET",
       "/v1/sites/s1/",
       O::kFound,
       "/clerkship.catalog.v1.CatalogService/GetSite",
       {{"name", "sites/s1"}}},
      {"PATCH",
       "/v1/rotations/r1",
       O::kFound,
       "/clerkship.catalog.v1.CatalogService/UpdateRotation",
       {{"rotation.name", "rotations/r1"}}},
      {"POST",
       "/v1/rotations/r1:publish",
       O::kFound,
       "/clerkship.catalog.v1.CatalogService/PublishRotation",
       {{"name", "rotations/r1"}}},
      {"POST",
       "/v1/rotations/r1:archive",
       O::kFound,
       "/clerkship.catalog.v1.CatalogService/ArchiveRotation",
       {{"name", "rotations/r1"}}},
      {"PATCH",
       "/v1/rotations/r1/sessions/s1",
       O::kFound,
       "/clerkship.catalog.v1.CatalogService/UpdateSession",
       {{"session.name", "rotations/r1/sessions/s1"}}},
      {"GET",
       "/v1/applicants/a1/eligibility",
       O::kFound,
       "/clerkship.applicant.v1.ApplicantService/CheckEligibility",
       {{"applicant", "applicants/a1"}}},
      {"POST",
       "/v1/applicants/a1/documents/d1:verify",
       O::kFound,
       "/clerkship.applicant.v1.ApplicantService/VerifyDocument",
       {{"name", "applicants/a1/documents/d1"}}},
      {"GET",
       "/v1/applicants/a1/experience",
       O::kFound,
       "/clerkship.applicant.v1.ApplicantService/GetExperienceRecord",
       {{"name", "applicants/a1/experience"}}},
      {"POST",
       "/v1/applications/x:accept",
       O::kFound,
       "/clerkship.applicant.v1.ApplicantService/AcceptOffer",
       {{"name", "applications/x"}}},
      {"POST",
       "/v1/rounds/r:publish",
       O::kFound,
       "/clerkship.matching.v1.MatchingService/PublishRound",
       {{"name", "rounds/r"}}},
      {"GET",
       "/v1/applicants/a1/notifications:stream",
       O::kFound,
       "/clerkship.notification.v1.NotificationService/StreamNotifications",
       {{"parent", "applicants/a1"}}},
      {"GET",
       "/v1/applicants/a1/notifications",
       O::kFound,
       "/clerkship.notification.v1.NotificationService/ListNotifications",
       {{"parent", "applicants/a1"}}},
      {"POST",
       "/v1/applicants/a1/notifications/n1:markRead",
       O::kFound,
       "/clerkship.notification.v1.NotificationService/MarkRead",
       {{"name", "applicants/a1/notifications/n1"}}},
      {"PATCH",
       "/v1/applicants/a1/notificationSettings",
       O::kFound,
       "/clerkship.notification.v1.NotificationService/UpdateNotificationSettings",
       {{"notification_settings.name", "applicants/a1/notificationSettings"}}},
      // Known path, wrong method.
      {"DELETE", "/v1/sites", O::kMethodNotAllowed, nullptr, {}},
      {"PUT", "/v1/sites/s1", O::kMethodNotAllowed, nullptr, {}},
      // The verb wins over GetRotation's "rotations/r1:publish": GET is not allowed there.
      {"GET", "/v1/rotations/r1:publish", O::kMethodNotAllowed, nullptr, {}},
      {"GET",
       "/v1/rotations/r1:unknownVerb",
       O::kFound,
       "/clerkship.catalog.v1.CatalogService/GetRotation",
       {{"name", "rotations/r1:unknownVerb"}}},
      // Unknown paths.
      {"GET", "/v1/nothing", O::kNotFound, nullptr, {}},
      {"GET", "/v2/sites", O::kNotFound, nullptr, {}},
      {"GET", "/v1/sites/s1/x", O::kNotFound, nullptr, {}},
      {"GET", "/v1//sites", O::kNotFound, nullptr, {}},
      {"GET", "/", O::kNotFound, nullptr, {}},
      // Broken escapes and non-paths.
      {"GET", "/v1/sites/%zz", O::kBadPath, nullptr, {}},
      {"GET", "v1/sites", O::kBadPath, nullptr, {}},
      {"GET", "", O::kBadPath, nullptr, {}},
  };
  for (const RouteCase& c : cases) {
    RouteMatch m = table_->Match(c.method, c.path);
    EXPECT_EQ(m.outcome, c.outcome) << c.method << " " << c.path;
    if (c.outcome == RouteMatch::Outcome::kFound && m.route != nullptr) {
      EXPECT_EQ(m.route->rpc_path, c.rpc) << c.method << " " << c.path;
      EXPECT_EQ(m.bindings, c.bindings) << c.method << " " << c.path;
    }
  }
}

TEST_F(PlatformRoutes, MethodNotAllowedListsTheAllowedMethods) {
  RouteMatch m = table_->Match("DELETE", "/v1/rotations/r1");
  ASSERT_EQ(m.outcome, RouteMatch::Outcome::kMethodNotAllowed);
  EXPECT_THAT(m.allowed_methods, ElementsAre("GET", "PATCH"));
  EXPECT_THAT(table_->MethodsFor("/v1/sites"), ElementsAre("GET", "POST"));
}

TEST_F(PlatformRoutes, OnlyCatalogReadsArePublicAndInternalRpcsAreNotRouted) {
  int routes = 0;
  for (const auto& route : table_->routes()) {
    ++routes;
    bool catalog_get =
        route->http_method == "GET" && route->method->service()->name() == "CatalogService";
    EXPECT_EQ(route->anonymous, catalog_get) << route->label;
    EXPECT_NE(route->method->name(), "GetSession");
    EXPECT_NE(route->method->name(), "CancelApplication");
    EXPECT_NE(route->method->name(), "SendNotification");
    EXPECT_NE(route->method->service()->name(), "SeatInventoryService");
  }
  EXPECT_EQ(routes, 43);  // every annotated RPC of DESIGN.md §3
}

// --- the test service: '**', additional_bindings, precedence ------------------------------

class TestServiceRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    FrontedService fronted;
    fronted.service =
        gatewaytest::v1::Thing::descriptor()->file()->FindServiceByName("ThingService");
    fronted.backend = "things";
    fronted.anonymous_reads = true;
    auto table = RouteTable::Build({fronted});
    ASSERT_TRUE(table.ok()) << table.status();
    table_ = *std::move(table);
  }
  std::unique_ptr<RouteTable> table_;
};

TEST_F(TestServiceRoutes, AdditionalBindingsAndDoubleWildcards) {
  RouteMatch a = table_->Match("GET", "/v1/racks/s1/things/t1");
  ASSERT_EQ(a.outcome, RouteMatch::Outcome::kFound);
  EXPECT_EQ(a.route->method->name(), "GetThing");
  RouteMatch b = table_->Match("GET", "/v1/things/t%2F1");
  ASSERT_EQ(b.outcome, RouteMatch::Outcome::kFound);
  EXPECT_EQ(b.route->method->name(), "GetThing");
  EXPECT_THAT(b.bindings, ElementsAre(Pair("name", "t/1")));
  RouteMatch c = table_->Match("GET", "/v1/files/docs/2027/cv.pdf");
  ASSERT_EQ(c.outcome, RouteMatch::Outcome::kFound);
  EXPECT_EQ(c.route->method->name(), "GetFile");
  EXPECT_THAT(c.bindings, ElementsAre(Pair("path", "files/docs/2027/cv.pdf")));
  RouteMatch d = table_->Match("GET", "/v1/racks/s1/things:count");
  ASSERT_EQ(d.outcome, RouteMatch::Outcome::kFound);
  EXPECT_EQ(d.route->method->name(), "CountThings");
  RouteMatch e = table_->Match("GET", "/v1/racks/s1/things:watch");
  ASSERT_EQ(e.outcome, RouteMatch::Outcome::kFound);
  EXPECT_TRUE(e.route->server_streaming);
  EXPECT_EQ(table_->routes().size(), 10u);  // 9 RPCs, one with an extra binding; one unrouted
}

TEST(RouteTableBuild, RejectsAnnotationsItCannotServe) {
  // A template variable naming a field the request does not have is a start-up error.
  FrontedService fronted;
  fronted.service = gatewaytest::v1::Thing::descriptor()->file()->FindServiceByName("ThingService");
  fronted.backend = "things";
  EXPECT_TRUE(RouteTable::Build({fronted}).ok());
  EXPECT_FALSE(RouteTable::Build({fronted, fronted}).ok());  // every route declared twice
}

}  // namespace
}  // namespace clerkship::gateway
