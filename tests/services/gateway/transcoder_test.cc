// HTTP → protobuf: query parameters bound to (nested, repeated, enum, well-known) fields, the
// JSON body (unknown and badly typed fields named), path variables winning over the body; and
// protobuf → JSON.

#include "services/gateway/transcoder.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include "common/status/status.h"
#include "google/rpc/error_info.pb.h"
#include "services/gateway/http_errors.h"
#include "services/gateway/route_table.h"
#include "testdata/gateway_test.pb.h"

namespace clerkship::gateway {
namespace {

using gatewaytest::v1::ListThingsRequest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

class TranscoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FrontedService fronted;
    fronted.service =
        gatewaytest::v1::Thing::descriptor()->file()->FindServiceByName("ThingService");
    fronted.backend = "things";
    auto table = RouteTable::Build({fronted});
    ASSERT_TRUE(table.ok());
    table_ = *std::move(table);
  }

  // Transcodes one request; the route is found by the same matcher the gateway uses.
  absl::Status Transcode(const std::string& method, const std::string& target,
                         const std::string& body, google::protobuf::Message* out) {
    size_t q = target.find('?');
    std::string path = target.substr(0, q);
    std::string query = q == std::string::npos ? "" : target.substr(q + 1);
    RouteMatch m = table_->Match(method, path);
    EXPECT_EQ(m.outcome, RouteMatch::Outcome::kFound) << method << " " << target;
    if (m.outcome != RouteMatch::Outcome::kFound) return absl::NotFoundError(target);
    EXPECT_EQ(m.route->method->input_type(), out->GetDescriptor());
    return BuildRequest(*m.route, m.bindings, query, body, out);
  }

  static std::set<std::string> Fields(const absl::Status& s) {
    std::set<std::string> out;
    for (const auto& v : FieldViolationsOf(s)) out.insert(v.field);
    return out;
  }

  std::unique_ptr<RouteTable> table_;
};

TEST_F(TranscoderTest, QueryParametersBindScalarsEnumsAndWellKnownTypes) {
  ListThingsRequest r;
  ASSERT_TRUE(Transcode("GET",
                        "/v1/racks/s1/things?pageSize=25&page_token=abc%3D&includeHidden=true"
                        "&since=2027-03-01T14:00:00Z&readMask=title,size.width&minScore=0.5"
                        "&cursor=AQID&archived=false&big=18446744073709551615&maxAge=1.5s",
                        "", &r)
                  .ok());
  EXPECT_EQ(r.parent(), "racks/s1");
  EXPECT_EQ(r.page_size(), 25);
  EXPECT_EQ(r.page_token(), "abc=");
  EXPECT_TRUE(r.include_hidden());
  EXPECT_EQ(r.since().seconds(), 1803909600);
  EXPECT_THAT(r.read_mask().paths(), ElementsAre("title", "size.width"));
  EXPECT_DOUBLE_EQ(r.min_score(), 0.5);
  EXPECT_EQ(r.cursor(), std::string("\x01\x02\x03"));
  EXPECT_TRUE(r.has_archived());  // proto3 optional: explicitly false is not unset
  EXPECT_FALSE(r.archived());
  EXPECT_EQ(r.big(), 18446744073709551615ull);
  EXPECT_EQ(r.max_age().seconds(), 1);
  EXPECT_EQ(r.max_age().nanos(), 500000000);
}

TEST_F(TranscoderTest, RepeatedAndNestedQueryParameters) {
  ListThingsRequest r;
  ASSERT_TRUE(Transcode("GET",
                        "/v1/racks/s1/things?tags=a&tags=b+c&tags=d%26e&filter.color=GREEN"
                        "&filter.sizes=1&filter.sizes=2&filter.minSize.width=3"
                        "&filter.min_size.height=4&filter.maxWeight=900&filter.colors=RED"
                        "&filter.colors=2",
                        "", &r)
                  .ok());
  EXPECT_THAT(r.tags(), ElementsAre("a", "b c", "d&e"));
  EXPECT_EQ(r.filter().color(), gatewaytest::v1::GREEN);
  EXPECT_THAT(r.filter().sizes(), ElementsAre(1, 2));
  EXPECT_EQ(r.filter().min_size().width(), 3);
  EXPECT_EQ(r.filter().min_size().height(), 4);
  EXPECT_EQ(r.filter().max_weight().value(), 900);
  EXPECT_THAT(r.filter().colors(), ElementsAre(gatewaytest::v1::RED, gatewaytest::v1::GREEN));
}

struct BadQueryCase {
  const char* target;
  const char* field;  // the violation's field, as the client wrote it
};

TEST_F(TranscoderTest, BadQueryParametersAreNamed) {
  const BadQueryCase cases[] = {
      {"/v1/racks/s1/things?pageSize=ten", "pageSize"},
      {"/v1/racks/s1/things?pageSize=99999999999", "pageSize"},
      {"/v1/racks/s1/things?includeHidden=yes", "includeHidden"},
      {"/v1/racks/s1/things?filter.color=PURPLE", "filter.color"},
      {"/v1/racks/s1/things?filter.color=7", "filter.color"},
      {"/v1/racks/s1/things?since=yesterday", "since"},
      {"/v1/racks/s1/things?minScore=inf", "minScore"},
      {"/v1/racks/s1/things?cursor=***", "cursor"},
      {"/v1/racks/s1/things?nope=1", "nope"},
      {"/v1/racks/s1/things?filter.nope=1", "filter.nope"},
      {"/v1/racks/s1/things?pageSize=1&pageSize=2", "pageSize"},  // not repeated
      {"/v1/racks/s1/things?parent=racks/s2", "parent"},          // bound by the path
      {"/v1/racks/s1/things?filter=x", "filter"},                 // a message
      {"/v1/racks/s1/things?sizes.width=1", "sizes.width"},       // inside a repeated message
      {"/v1/racks/s1/things?labels=x", "labels"},                 // a map
      {"/v1/racks/s1/things?tags=%FF", "tags"},                   // not UTF-8
      {"/v1/racks/s1/things?tags=%G1", "tags"},                   // broken escape
  };
  for (const BadQueryCase& c : cases) {
    ListThingsRequest r;
    absl::Status s = Transcode("GET", c.target, "", &r);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.target;
    EXPECT_THAT(Fields(s), ElementsAre(c.field)) << c.target << ": " << s;
  }
}

TEST_F(TranscoderTest, EveryBadQueryParameterIsReportedAtOnce) {
  ListThingsRequest r;
  absl::Status s = Transcode("GET", "/v1/racks/s1/things?pageSize=x&nope=1&tags=ok", "", &r);
  EXPECT_THAT(Fields(s), ElementsAre("nope", "pageSize"));
}

TEST_F(TranscoderTest, NamedBodyFieldWithQueryForTheRest) {
  gatewaytest::v1::CreateThingRequest r;
  ASSERT_TRUE(Transcode("POST", "/v1/racks/s1/things?thingId=t9",
                        R"({"title":"Lamp","color":"RED","weightGrams":"1200",
                            "size":{"width":3},"tags":["x"],"labels":{"k":"v"}})",
                        &r)
                  .ok());
  EXPECT_EQ(r.parent(), "racks/s1");
  EXPECT_EQ(r.thing_id(), "t9");
  EXPECT_EQ(r.thing().title(), "Lamp");
  EXPECT_EQ(r.thing().color(), gatewaytest::v1::RED);
  EXPECT_EQ(r.thing().weight_grams(), 1200);
  EXPECT_EQ(r.thing().size().width(), 3);
  EXPECT_EQ(r.thing().labels().at("k"), "v");

  // The body field cannot also come from the query.
  gatewaytest::v1::CreateThingRequest again;
  absl::Status s = Transcode("POST", "/v1/racks/s1/things?thing.title=x", "{}", &again);
  EXPECT_THAT(Fields(s), ElementsAre("thing.title"));
}

TEST_F(TranscoderTest, UnknownJsonFieldsAreNamedWithTheirPath) {
  gatewaytest::v1::CreateThingRequest r;
  absl::Status s = Transcode("POST", "/v1/racks/s1/things", R"({"title":"x","colour":"RED"})", &r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(s), ElementsAre("thing.colour"));
  EXPECT_EQ(ErrorReasonOf(s), "UNKNOWN_FIELD");

  gatewaytest::v1::CreateThingRequest nested;
  s = Transcode("POST", "/v1/racks/s1/things", R"({"size":{"depth":2}})", &nested);
  EXPECT_THAT(Fields(s), ElementsAre("thing.size.depth"));

  gatewaytest::v1::PolishThingRequest star;
  s = Transcode("POST", "/v1/racks/s1/things/t1:polish", R"({"passes":2,"shine":true})", &star);
  EXPECT_THAT(Fields(s), ElementsAre("shine"));
}

TEST_F(TranscoderTest, BadlyTypedJsonValuesAreNamed) {
  gatewaytest::v1::CreateThingRequest r;
  absl::Status s = Transcode("POST", "/v1/racks/s1/things", R"({"title":5})", &r);
  EXPECT_THAT(Fields(s), ElementsAre("thing.title"));
  EXPECT_EQ(ErrorReasonOf(s), "INVALID_FIELD_VALUE");
  gatewaytest::v1::CreateThingRequest t;
  s = Transcode("POST", "/v1/racks/s1/things", R"({"createTime":"not a time"})", &t);
  EXPECT_THAT(Fields(s), ElementsAre("thing.create_time"));
  gatewaytest::v1::CreateThingRequest e;
  s = Transcode("POST", "/v1/racks/s1/things", R"({"color":"BLUE"})", &e);
  EXPECT_THAT(Fields(s), ElementsAre("thing.color"));
}

// Protobuf's parser keeps the last of two equal keys and reports 1e400 without a field: the
// client's intent is a guess in the first case, and unnamed in the second.
TEST_F(TranscoderTest, DuplicateKeysAndOutOfRangeNumbersAreNamed) {
  gatewaytest::v1::CreateThingRequest r;
  absl::Status s =
      Transcode("POST", "/v1/racks/s1/things", R"({"title":"a","tags":[],"title":"b"})", &r);
  EXPECT_THAT(Fields(s), ElementsAre("thing.title"));
  EXPECT_EQ(ErrorReasonOf(s), "DUPLICATE_FIELD");
  gatewaytest::v1::CreateThingRequest nested;
  s = Transcode("POST", "/v1/racks/s1/things", R"({"size":{"depth":1,"depth":2}})", &nested);
  EXPECT_THAT(Fields(s), ElementsAre("thing.size.depth"));
  gatewaytest::v1::CreateThingRequest labels;
  s = Transcode("POST", "/v1/racks/s1/things", R"({"labels":{"k":"1","k":"2"}})", &labels);
  EXPECT_THAT(Fields(s), ElementsAre("thing.labels.k"));
  // The same key in two different objects is fine.
  gatewaytest::v1::PolishThingRequest fine;
  EXPECT_TRUE(Transcode("POST", "/v1/racks/s1/things/t1:polish", R"({"passes":1})", &fine).ok());
  gatewaytest::v1::CreateThingRequest huge;
  s = Transcode("POST", "/v1/racks/s1/things", R"({"score":1e400})", &huge);
  EXPECT_THAT(Fields(s), ElementsAre("thing.score"));
  EXPECT_EQ(ErrorReasonOf(s), "INVALID_FIELD_VALUE");
}

// NUL characters in path and query values are refused, not passed on to the backends.
TEST_F(TranscoderTest, NulCharactersInPathAndQueryAreRefused) {
  ListThingsRequest q;
  absl::Status s = Transcode("GET", "/v1/racks/s1/things?pageToken=a%00b", "", &q);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(s), ElementsAre("pageToken"));
  ListThingsRequest p;
  s = Transcode("GET", "/v1/racks/s%001/things", "", &p);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(s), ElementsAre("parent"));
}

TEST_F(TranscoderTest, MalformedJsonIsInvalidArgumentWithoutAFieldName) {
  for (const char* body : {"{", "{\"etag\":}", "[1,2]", "\"text\"", "{\"passes\":1} trailing",
                           "{\"etag\":\"\\ud800\"}", "nul"}) {
    gatewaytest::v1::PolishThingRequest r;
    absl::Status s = Transcode("POST", "/v1/racks/s1/things/t1:polish", body, &r);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_EQ(ErrorReasonOf(s), "MALFORMED_JSON") << body << ": " << s;
  }
}

TEST_F(TranscoderTest, PathVariablesWinOverTheBody) {
  gatewaytest::v1::PolishThingRequest r;
  ASSERT_TRUE(Transcode("POST", "/v1/racks/s1/things/t1:polish",
                        R"({"name":"racks/evil/things/x","passes":3})", &r)
                  .ok());
  EXPECT_EQ(r.name(), "racks/s1/things/t1");
  EXPECT_EQ(r.passes(), 3);

  gatewaytest::v1::UpdateThingRequest u;
  ASSERT_TRUE(Transcode("PATCH", "/v1/racks/s1/things/t1?updateMask=title",
                        R"({"name":"racks/x/things/y","title":"New"})", &u)
                  .ok());
  EXPECT_EQ(u.thing().name(), "racks/s1/things/t1");
  EXPECT_EQ(u.thing().title(), "New");
  EXPECT_THAT(u.update_mask().paths(), ElementsAre("title"));
}

TEST_F(TranscoderTest, BodyStarTakesNoQueryParameters) {
  gatewaytest::v1::PolishThingRequest r;
  absl::Status s = Transcode("POST", "/v1/racks/s1/things/t1:polish?passes=2", "{}", &r);
  EXPECT_THAT(Fields(s), ElementsAre("passes"));
}

TEST_F(TranscoderTest, EmptyBodiesAreEmptyMessages) {
  gatewaytest::v1::PolishThingRequest r;
  ASSERT_TRUE(Transcode("POST", "/v1/racks/s1/things/t1:polish", "  \r\n", &r).ok());
  EXPECT_EQ(r.name(), "racks/s1/things/t1");
  EXPECT_EQ(r.passes(), 0);
}

TEST_F(TranscoderTest, ScalarBodyFieldTakesOneJsonValueOnly) {
  gatewaytest::v1::TagThingRequest r;
  ASSERT_TRUE(Transcode("POST", "/v1/racks/s1/things/t1:tag", R"(["a","b"])", &r).ok());
  EXPECT_THAT(r.tags(), ElementsAre("a", "b"));
  // A body that tries to close the field's value and set another field is not one value.
  gatewaytest::v1::TagThingRequest evil;
  absl::Status s = Transcode("POST", "/v1/racks/s1/things/t1:tag",
                             R"(["a"], "name": "racks/x/things/y")", &evil);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TranscoderTest, PercentEncodedPathValuesAreDecodedAndMustBeUtf8) {
  gatewaytest::v1::GetThingRequest r;
  ASSERT_TRUE(Transcode("GET", "/v1/things/caf%C3%A9", "", &r).ok());
  EXPECT_EQ(r.name(), "caf\xC3\xA9");
  gatewaytest::v1::GetThingRequest bad;
  absl::Status s = Transcode("GET", "/v1/things/%FF%FE", "", &bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TranscoderTest, ResponsesUseLowerCamelCaseAndPrintDefaults) {
  RouteMatch m = table_->Match("GET", "/v1/things/t1");
  ASSERT_EQ(m.outcome, RouteMatch::Outcome::kFound);
  gatewaytest::v1::Thing thing;
  thing.set_name("things/t1");
  thing.set_weight_grams(12);
  thing.set_color(gatewaytest::v1::GREEN);
  auto json = ResponseToJson(*m.route, thing, /*emit_defaults=*/true);
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr(R"("weightGrams":"12")"));
  EXPECT_THAT(*json, HasSubstr(R"("color":"GREEN")"));
  EXPECT_THAT(*json, HasSubstr(R"("title":"")"));
  EXPECT_THAT(*json, HasSubstr(R"("tags":[])"));
  auto lean = ResponseToJson(*m.route, thing, /*emit_defaults=*/false);
  ASSERT_TRUE(lean.ok());
  EXPECT_THAT(*lean, ::testing::Not(HasSubstr("title")));
}

TEST_F(TranscoderTest, ResponseBodyFieldIsTheWholeBody) {
  RouteMatch m = table_->Match("GET", "/v1/racks/s1/things:count");
  ASSERT_EQ(m.outcome, RouteMatch::Outcome::kFound);
  gatewaytest::v1::CountThingsResponse response;
  response.set_count(42);
  auto json = ResponseToJson(*m.route, response, true);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "\"42\"");
}

// Found by the fuzzer: client bytes that are not UTF-8 ended up in the google.rpc details,
// which then could not be serialized (and flooded the log with protobuf errors).
TEST_F(TranscoderTest, ClientBytesQuotedInErrorsAreValidUtf8) {
  ListThingsRequest r;
  absl::Status s = Transcode("GET", "/v1/racks/r1/things?%FF%FE=1&filter.color=%C3", "", &r);
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  std::vector<FieldViolation> violations = FieldViolationsOf(s);
  ASSERT_EQ(violations.size(), 2u);
  for (const FieldViolation& v : violations) {
    EXPECT_TRUE(IsValidUtf8(v.field)) << v.field;
    EXPECT_TRUE(IsValidUtf8(v.description)) << v.description;
  }
  EXPECT_EQ(violations[0].field, "\xEF\xBF\xBD\xEF\xBF\xBD");
  // The client sees both violations in the JSON error, not a bare @type.
  nlohmann::json body = nlohmann::json::parse(ErrorFromStatus(s).body);
  bool found = false;
  for (const auto& d : body["error"]["details"]) {
    if (d.contains("fieldViolations")) {
      found = true;
      EXPECT_EQ(d["fieldViolations"].size(), 2u);
    }
  }
  EXPECT_TRUE(found) << body.dump();
  EXPECT_EQ(ToValidUtf8("ok \xC3\xA9"), "ok \xC3\xA9");
  EXPECT_EQ(ToValidUtf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
}

TEST(QueryString, SplitsAndDecodes) {
  auto params = ParseQueryString("a=1&b=x+y&c=%2F&d&&=skip&e=");
  ASSERT_TRUE(params.ok());
  EXPECT_THAT(*params, ElementsAre(Pair("a", "1"), Pair("b", "x y"), Pair("c", "/"), Pair("d", ""),
                                   Pair("e", "")));
  EXPECT_FALSE(ParseQueryString("a=%").ok());
}

TEST(Utf8, ValidatesStrictly) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
}

}  // namespace
}  // namespace clerkship::gateway
