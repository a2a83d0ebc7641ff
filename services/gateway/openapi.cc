#include "services/gateway/openapi.h"

#include <google/protobuf/descriptor.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace clerkship::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using Json = nlohmann::ordered_json;

constexpr int kMaxQueryDepth = 3;

struct PathParam {
  std::string name;
  std::string description;
};

// "sites" → "siteId", "notifications" → "notificationId".
std::string IdParamName(absl::string_view collection) {
  std::string base(collection);
  if (absl::EndsWith(base, "ies")) {
    base = base.substr(0, base.size() - 3) + "y";
  } else if (absl::EndsWith(base, "s")) {
    base.pop_back();
  }
  return base + "Id";
}

std::string LowerCamel(absl::string_view snake) {
  std::string out;
  bool upper = false;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out.push_back(upper ? absl::ascii_toupper(c) : c);
    upper = false;
  }
  return out;
}

std::string RenderPath(const PathTemplate& path, std::vector<PathParam>* params) {
  std::vector<std::string> rendered(path.segments().size());
  std::set<std::string> used;
  auto unique = [&](std::string name) {
    std::string candidate = name;
    for (int i = 2; used.count(candidate) > 0; ++i) candidate = absl::StrCat(name, i);
    used.insert(candidate);
    return candidate;
  };
  std::vector<bool> in_variable(path.segments().size(), false);
  for (const PathTemplate::Variable& v : path.variables()) {
    std::vector<std::string> pattern;
    for (int i = v.first_segment; i < v.end_segment; ++i) {
      in_variable[i] = true;
      const auto& s = path.segments()[i];
      pattern.push_back(s.kind == PathTemplate::Segment::Kind::kLiteral          ? s.literal
                        : s.kind == PathTemplate::Segment::Kind::kSingleWildcard ? "*"
                                                                                 : "**");
    }
    std::string pattern_text = absl::StrJoin(pattern, "/");
    for (int i = v.first_segment; i < v.end_segment; ++i) {
      const auto& s = path.segments()[i];
      if (s.kind == PathTemplate::Segment::Kind::kLiteral) {
        rendered[i] = s.literal;
        continue;
      }
      std::string name;
      if (s.kind == PathTemplate::Segment::Kind::kSingleWildcard && i > v.first_segment &&
          path.segments()[i - 1].kind == PathTemplate::Segment::Kind::kLiteral) {
        name = IdParamName(path.segments()[i - 1].literal);
      } else {
        std::vector<std::string> parts = absl::StrSplit(v.field_path, '.');
        name = LowerCamel(parts.back());
      }
      name = unique(name);
      rendered[i] = absl::StrCat("{", name, "}");
      std::string description =
          absl::StrCat("Part of the request field `", v.field_path, "` (", pattern_text, ").");
      if (s.kind == PathTemplate::Segment::Kind::kMultiWildcard) {
        absl::StrAppend(&description, " May contain '/'.");
      }
      params->push_back({name, description});
    }
  }
  for (size_t i = 0; i < path.segments().size(); ++i) {
    if (in_variable[i]) continue;
    const auto& s = path.segments()[i];
    if (s.kind == PathTemplate::Segment::Kind::kLiteral) {
      rendered[i] = s.literal;
    } else {
      std::string name = unique("segment");
      rendered[i] = absl::StrCat("{", name, "}");
      params->push_back({name, "Any path segment."});
    }
  }
  std::string out = absl::StrCat("/", absl::StrJoin(rendered, "/"));
  if (!path.verb().empty()) absl::StrAppend(&out, ":", path.verb());
  return out;
}

class SchemaBuilder {
 public:
  Json Ref(const std::string& name) { return Json{{"$ref", "#/components/schemas/" + name}}; }

  Json MessageRef(const Descriptor* d) {
    if (Json wkt; WellKnown(d, &wkt)) return wkt;
    AddMessage(d);
    return Ref(d->full_name());
  }

  Json FieldSchema(const FieldDescriptor* f) {
    if (f->is_map()) {
      return Json{{"type", "object"},
                  {"additionalProperties", SingleSchema(f->message_type()->map_value())}};
    }
    if (f->is_repeated()) return Json{{"type", "array"}, {"items", SingleSchema(f)}};
    return SingleSchema(f);
  }

  Json SingleSchema(const FieldDescriptor* f) {
    switch (f->type()) {
      case FieldDescriptor::TYPE_DOUBLE:
        return {{"type", "number"}, {"format", "double"}};
      case FieldDescriptor::TYPE_FLOAT:
        return {{"type", "number"}, {"format", "float"}};
      case FieldDescriptor::TYPE_INT32:
      case FieldDescriptor::TYPE_SINT32:
      case FieldDescriptor::TYPE_SFIXED32:
        return {{"type", "integer"}, {"format", "int32"}};
      case FieldDescriptor::TYPE_UINT32:
      case FieldDescriptor::TYPE_FIXED32:
        return {{"type", "integer"}, {"format", "int64"}, {"minimum", 0}};
      // The proto3 JSON mapping writes 64-bit integers as strings.
      case FieldDescriptor::TYPE_INT64:
      case FieldDescriptor::TYPE_SINT64:
      case FieldDescriptor::TYPE_SFIXED64:
        return {{"type", "string"}, {"format", "int64"}};
      case FieldDescriptor::TYPE_UINT64:
      case FieldDescriptor::TYPE_FIXED64:
        return {{"type", "string"}, {"format", "uint64"}};
      case FieldDescriptor::TYPE_BOOL:
        return {{"type", "boolean"}};
      case FieldDescriptor::TYPE_STRING:
        return {{"type", "string"}};
      case FieldDescriptor::TYPE_BYTES:
        return {{"type", "string"}, {"format", "byte"}};
      case FieldDescriptor::TYPE_ENUM:
        AddEnum(f->enum_type());
        return Ref(f->enum_type()->full_name());
      case FieldDescriptor::TYPE_MESSAGE:
      case FieldDescriptor::TYPE_GROUP:
        return MessageRef(f->message_type());
    }
    return Json::object();
  }

  void AddEnum(const EnumDescriptor* e) {
    if (schemas_.count(e->full_name()) > 0) return;
    Json values = Json::array();
    for (int i = 0; i < e->value_count(); ++i) values.push_back(e->value(i)->name());
    schemas_[e->full_name()] = Json{{"type", "string"}, {"enum", values}};
  }

  void AddMessage(const Descriptor* d) {
    if (schemas_.count(d->full_name()) > 0) return;
    schemas_[d->full_name()] = Json::object();  // placeholder: recursion stops here
    Json properties = Json::object();
    for (int i = 0; i < d->field_count(); ++i) {
      const FieldDescriptor* f = d->field(i);
      properties[f->json_name()] = FieldSchema(f);
    }
    Json schema{{"type", "object"}, {"properties", properties}};
    schemas_[d->full_name()] = std::move(schema);
  }

  std::map<std::string, Json>& schemas() { return schemas_; }

 private:
  static bool WellKnown(const Descriptor* d, Json* out) {
    const std::string& n = d->full_name();
    if (n == "google.protobuf.Timestamp") {
      *out = {{"type", "string"}, {"format", "date-time"}};
    } else if (n == "google.protobuf.Duration") {
      *out = {{"type", "string"},
              {"pattern", "^-?[0-9]+(\\.[0-9]{1,9})?s$"},
              {"description", "Duration in seconds with an 's' suffix, e.g. \"1.5s\"."}};
    } else if (n == "google.protobuf.FieldMask") {
      *out = {
          {"type", "string"},
          {"description", "Comma-separated field paths (lowerCamelCase), e.g. \"title,fees\"."}};
    } else if (n == "google.protobuf.Struct") {
      *out = {{"type", "object"}, {"additionalProperties", true}};
    } else if (n == "google.protobuf.Value") {
      *out = Json::object();
    } else if (n == "google.protobuf.ListValue") {
      *out = {{"type", "array"}, {"items", Json::object()}};
    } else if (n == "google.protobuf.Empty") {
      *out = {{"type", "object"}};
    } else if (n == "google.protobuf.Any") {
      *out = {{"type", "object"},
              {"properties", {{"@type", {{"type", "string"}}}}},
              {"additionalProperties", true}};
    } else if (absl::StartsWith(n, "google.protobuf.") && absl::EndsWith(n, "Value")) {
      // Wrappers: the JSON value of their `value` field, or null.
      SchemaBuilder scalar;
      *out = scalar.SingleSchema(d->FindFieldByName("value"));
      (*out)["nullable"] = true;
    } else {
      return false;
    }
    return true;
  }

  std::map<std::string, Json> schemas_;
};

bool IsQueryLeaf(const FieldDescriptor* f) {
  if (f->is_map()) return false;
  if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return true;
  const std::string& n = f->message_type()->full_name();
  return n == "google.protobuf.Timestamp" || n == "google.protobuf.Duration" ||
         n == "google.protobuf.FieldMask" ||
         (absl::StartsWith(n, "google.protobuf.") && absl::EndsWith(n, "Value") &&
          n != "google.protobuf.Value");
}

// Query parameters for every field of `d` not bound by the path or the body.
void AddQueryParams(SchemaBuilder* schemas, const Descriptor* d, const std::string& proto_prefix,
                    const std::string& json_prefix, const Route& route, int depth,
                    Json* parameters) {
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    std::string proto_path = proto_prefix.empty() ? f->name() : proto_prefix + "." + f->name();
    std::string json_path =
        json_prefix.empty() ? f->json_name() : json_prefix + "." + f->json_name();
    if (depth == 0 && route.body_field == f) continue;
    bool bound = false;
    for (const auto& v : route.path.variables()) {
      if (v.field_path == proto_path) bound = true;
    }
    if (bound) continue;
    if (IsQueryLeaf(f)) {
      Json p{{"name", json_path}, {"in", "query"}, {"required", false}};
      Json schema = schemas->FieldSchema(f);
      p["schema"] = schema;
      if (f->is_repeated()) {
        p["style"] = "form";
        p["explode"] = true;
      }
      parameters->push_back(std::move(p));
    } else if (!f->is_repeated() && depth + 1 < kMaxQueryDepth &&
               f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      AddQueryParams(schemas, f->message_type(), proto_path, json_path, route, depth + 1,
                     parameters);
    }
  }
}

Json ErrorSchema() {
  Json detail{{"type", "object"},
              {"properties", {{"@type", {{"type", "string"}}}}},
              {"additionalProperties", true},
              {"description",
               "A google.rpc detail (BadRequest, PreconditionFailure, ErrorInfo) in its proto3 "
               "JSON form, named by @type."}};
  Json error{{"type", "object"},
             {"required", Json::array({"code", "status", "message"})},
             {"properties",
              {{"code", {{"type", "integer"}, {"description", "The HTTP status."}}},
               {"status", {{"type", "string"}, {"description", "The gRPC status code name."}}},
               {"message", {{"type", "string"}}},
               {"details", {{"type", "array"}, {"items", detail}}}}}};
  return Json{
      {"type", "object"}, {"required", Json::array({"error"})}, {"properties", {{"error", error}}}};
}

Json SimpleGet(const std::string& summary, const std::string& content_type, Json schema,
               const std::string& id) {
  Json ok{{"description", "OK"}, {"content", {{content_type, {{"schema", schema}}}}}};
  Json responses{{"200", ok}};
  if (id == "readyz") {
    responses["503"] = {{"description", "A backend is not serving."},
                        {"content", {{content_type, {{"schema", schema}}}}}};
  }
  return Json{{"get",
               {{"operationId", id},
                {"summary", summary},
                {"tags", Json::array({"gateway"})},
                {"responses", responses}}}};
}

}  // namespace

std::string OpenApiPath(const PathTemplate& path) {
  std::vector<PathParam> ignored;
  return RenderPath(path, &ignored);
}

std::string BuildOpenApi(const RouteTable& routes, const OpenApiOptions& options) {
  SchemaBuilder schemas;
  Json paths = Json::object();
  std::map<std::string, int> operation_ids;
  std::set<std::string> tags;

  for (const auto& route_ptr : routes.routes()) {
    const Route& route = *route_ptr;
    std::vector<PathParam> path_params;
    std::string path = RenderPath(route.path, &path_params);
    std::string service = route.method->service()->name();
    tags.insert(service);

    Json parameters = Json::array();
    for (const PathParam& p : path_params) {
      parameters.push_back({{"name", p.name},
                            {"in", "path"},
                            {"required", true},
                            {"description", p.description},
                            {"schema", {{"type", "string"}}}});
    }
    if (route.body != "*") {
      AddQueryParams(&schemas, route.method->input_type(), "", "", route, 0, &parameters);
    }

    Json op;
    std::string id = absl::StrCat(service, "_", route.method->name());
    if (int n = operation_ids[id]++; n > 0) absl::StrAppend(&id, "_", n);
    op["operationId"] = id;
    op["summary"] = absl::StrCat(route.method->full_name());
    op["tags"] = Json::array({service});
    if (!parameters.empty()) op["parameters"] = parameters;
    if (!route.body.empty()) {
      Json body_schema = route.body == "*" ? schemas.MessageRef(route.method->input_type())
                                           : schemas.FieldSchema(route.body_field);
      op["requestBody"] = {{"required", false},
                           {"content", {{"application/json", {{"schema", body_schema}}}}}};
    }
    Json ok;
    if (route.server_streaming) {
      Json item = schemas.MessageRef(route.method->output_type());
      ok = {{"description",
             absl::StrCat("Server-sent events: one `event: message` per ",
                          route.method->output_type()->full_name(),
                          " (its JSON on the `data:` line); comment lines are heartbeats; an "
                          "`event: error` carries the error body before the stream ends.")},
            {"content", {{"text/event-stream", {{"schema", {{"type", "string"}}}}}}}};
    } else {
      Json schema = route.response_body_field != nullptr
                        ? schemas.FieldSchema(route.response_body_field)
                        : schemas.MessageRef(route.method->output_type());
      ok = {{"description", "OK"}, {"content", {{"application/json", {{"schema", schema}}}}}};
    }
    op["responses"] = {{"200", ok}, {"default", {{"$ref", "#/components/responses/Error"}}}};
    if (route.anonymous) {
      op["security"] = Json::array({Json::object(), {{"bearerAuth", Json::array()}}});
    } else {
      op["security"] = Json::array({{{"bearerAuth", Json::array()}}});
    }
    std::string method = absl::AsciiStrToLower(route.http_method);
    paths[path][method] = std::move(op);
  }

  Json status_schema{{"type", "object"}, {"additionalProperties", true}};
  paths["/healthz"] =
      SimpleGet("The gateway process is up.", "application/json", status_schema, "healthz");
  paths["/readyz"] = SimpleGet("Every backend answers its gRPC health check with SERVING.",
                               "application/json", status_schema, "readyz");
  paths["/metrics"] = SimpleGet("Prometheus metrics (text exposition format).", "text/plain",
                                {{"type", "string"}}, "metrics");
  paths["/openapi.json"] =
      SimpleGet("This document.", "application/json", {{"type", "object"}}, "openapi");

  Json components;
  Json schema_map = Json::object();
  for (auto& [name, schema] : schemas.schemas()) schema_map[name] = schema;
  schema_map["Error"] = ErrorSchema();
  components["schemas"] = std::move(schema_map);
  components["responses"] = {
      {"Error",
       {{"description", "An error: the HTTP status matches the gRPC code in `error.status`."},
        {"content",
         {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}}}};
  components["securitySchemes"] = {
      {"bearerAuth", {{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"}}}};

  Json doc;
  doc["openapi"] = "3.0.3";
  Json info{{"title", options.title}, {"version", options.version}};
  if (!options.description.empty()) info["description"] = options.description;
  doc["info"] = info;
  Json tag_list = Json::array();
  for (const std::string& t : tags) tag_list.push_back({{"name", t}});
  tag_list.push_back({{"name", "gateway"}});
  doc["tags"] = tag_list;
  doc["paths"] = std::move(paths);
  doc["components"] = std::move(components);
  return doc.dump(2);
}

}  // namespace clerkship::gateway
