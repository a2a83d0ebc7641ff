// The OpenAPI document generated from the route table: what a client generator reads.

#include "services/gateway/openapi.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "services/gateway/fronted_services.h"
#include "services/gateway/route_table.h"
#include "testdata/gateway_test.pb.h"

namespace clerkship::gateway {
namespace {

using Json = nlohmann::json;

Json Build(const std::vector<FrontedService>& services) {
  auto table = RouteTable::Build(services);
  EXPECT_TRUE(table.ok());
  return Json::parse(BuildOpenApi(**table, OpenApiOptions()));
}

Json ParamNamed(const Json& op, const std::string& name) {
  for (const auto& p : op["parameters"]) {
    if (p["name"] == name) return p;
  }
  return Json();
}

TEST(OpenApi, PlatformDocumentDescribesEveryRoute) {
  Json doc = Build(FrontedServices({"clerkship.catalog.v1.CatalogService"}));
  EXPECT_EQ(doc["openapi"], "3.0.3");
  const Json& paths = doc["paths"];
  // Resource names become one parameter per id.
  ASSERT_TRUE(paths.contains("/v1/sites/{siteId}"));
  ASSERT_TRUE(paths.contains("/v1/rotations/{rotationId}/sessions/{sessionId}"));
  ASSERT_TRUE(paths.contains("/v1/rotations/{rotationId}:publish"));
  ASSERT_TRUE(paths.contains("/v1/applicants/{applicantId}/notifications:stream"));
  ASSERT_TRUE(paths.contains("/v1/applicants/{applicantId}/experience"));
  ASSERT_TRUE(paths.contains("/openapi.json"));
  EXPECT_TRUE(paths["/v1/sites"].contains("get"));
  EXPECT_TRUE(paths["/v1/sites"].contains("post"));

  int operations = 0;
  std::set<std::string> ids;
  for (const auto& [path, item] : paths.items()) {
    for (const auto& [method, op] : item.items()) {
      ++operations;
      EXPECT_TRUE(ids.insert(op["operationId"].get<std::string>()).second) << path;
      // Every {parameter} of the path is declared as a required path parameter.
      for (size_t open = path.find('{'); open != std::string::npos;
           open = path.find('{', open + 1)) {
        std::string name = path.substr(open + 1, path.find('}', open) - open - 1);
        Json p = ParamNamed(op, name);
        ASSERT_FALSE(p.is_null()) << path << " " << name;
        EXPECT_EQ(p["in"], "path");
        EXPECT_EQ(p["required"], true);
      }
    }
  }
  EXPECT_EQ(operations, 43 + 4);

  // Query parameters of a GET, in lowerCamelCase, enums with their values.
  const Json& search = paths["/v1/rotations"]["get"];
  for (const char* name : {"specialty", "experienceType", "setting", "handsOn", "usState", "city",
                           "lorOffered", "visa", "maxTotalFeeCents", "startFrom", "startTo",
                           "hasSeats", "pageSize", "pageToken", "orderBy"}) {
    EXPECT_FALSE(ParamNamed(search, name).is_null()) << name;
  }
  EXPECT_EQ(ParamNamed(search, "maxTotalFeeCents")["schema"]["type"], "string");  // int64
  const Json specialty = ParamNamed(search, "specialty")["schema"];
  ASSERT_TRUE(specialty.contains("$ref"));
  std::string enum_name =
      specialty["$ref"].get<std::string>().substr(strlen("#/components/schemas/"));
  const Json& enum_schema = doc["components"]["schemas"][enum_name];
  EXPECT_EQ(enum_schema["type"], "string");
  EXPECT_NE(std::find(enum_schema["enum"].begin(), enum_schema["enum"].end(), "INTERNAL_MEDICINE"),
            enum_schema["enum"].end());

  // Bodies and responses reference message schemas; the body field's type for body: "site".
  const Json& create = paths["/v1/sites"]["post"];
  EXPECT_EQ(create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/clerkship.catalog.v1.Site");
  EXPECT_FALSE(ParamNamed(create, "siteId").is_null());
  EXPECT_FALSE(ParamNamed(create, "requestId").is_null());
  EXPECT_TRUE(ParamNamed(create, "site.displayName").is_null());
  const Json& site = doc["components"]["schemas"]["clerkship.catalog.v1.Site"];
  EXPECT_EQ(site["properties"]["createTime"]["format"], "date-time");
  EXPECT_EQ(site["properties"]["displayName"]["type"], "string");
  // A body: "*" method takes no query parameters.
  const Json& publish = paths["/v1/rotations/{rotationId}:publish"]["post"];
  ASSERT_EQ(publish["parameters"].size(), 1u);
  // The event stream is described as such.
  EXPECT_TRUE(paths["/v1/applicants/{applicantId}/notifications:stream"]["get"]["responses"]["200"]
                   ["content"]
                       .contains("text/event-stream"));
  // Errors share one schema.
  EXPECT_EQ(create["responses"]["default"]["$ref"], "#/components/responses/Error");
  EXPECT_TRUE(doc["components"]["schemas"]["Error"]["properties"].contains("error"));

  // Security: catalog reads are open, everything else needs the bearer token.
  EXPECT_EQ(paths["/v1/sites"]["get"]["security"][0], Json::object());
  EXPECT_EQ(paths["/v1/sites"]["post"]["security"][0], (Json{{"bearerAuth", Json::array()}}));
  EXPECT_EQ(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");

  // Every $ref points at a schema that exists.
  std::function<void(const Json&)> check_refs = [&](const Json& node) {
    if (node.is_object()) {
      if (node.contains("$ref")) {
        std::string ref = node["$ref"];
        std::vector<std::string> parts;
        for (size_t start = 2, slash; start <= ref.size(); start = slash + 1) {
          slash = ref.find('/', start);
          if (slash == std::string::npos) slash = ref.size();
          parts.push_back(ref.substr(start, slash - start));
        }
        ASSERT_EQ(parts.size(), 3u) << ref;
        EXPECT_TRUE(doc[parts[0]][parts[1]].contains(parts[2])) << ref;
      }
      for (const auto& [k, v] : node.items()) check_refs(v);
    } else if (node.is_array()) {
      for (const auto& v : node) check_refs(v);
    }
  };
  check_refs(doc);
}

TEST(OpenApi, NestedRepeatedAndWellKnownQueryParameters) {
  FrontedService fronted;
  fronted.service = gatewaytest::v1::Thing::descriptor()->file()->FindServiceByName("ThingService");
  fronted.backend = "things";
  Json doc = Build({fronted});
  const Json& list = doc["paths"]["/v1/racks/{rackId}/things"]["get"];
  EXPECT_EQ(ParamNamed(list, "tags")["schema"]["type"], "array");
  EXPECT_EQ(ParamNamed(list, "tags")["explode"], true);
  EXPECT_FALSE(ParamNamed(list, "filter.minSize.width").is_null());
  EXPECT_EQ(ParamNamed(list, "since")["schema"]["format"], "date-time");
  EXPECT_EQ(ParamNamed(list, "filter.maxWeight")["schema"]["nullable"], true);
  EXPECT_TRUE(ParamNamed(list, "labels").is_null());  // maps cannot be query parameters
  EXPECT_TRUE(ParamNamed(list, "parent").is_null());  // bound by the path
  EXPECT_TRUE(doc["paths"].contains("/v1/files/{path}"));
  EXPECT_TRUE(doc["paths"].contains("/v1/things/{name}"));
  // response_body: the response is the field, not the message.
  EXPECT_EQ(doc["paths"]["/v1/racks/{rackId}/things:count"]["get"]["responses"]["200"]["content"]
               ["application/json"]["schema"]["type"],
            "string");
}

}  // namespace
}  // namespace clerkship::gateway
