#include "services/gateway/route_table.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/api/annotations.pb.h"
#include "google/api/http.pb.h"

namespace clerkship::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::MessageFactory;
using google::protobuf::MethodDescriptor;

struct Binding {
  std::string method;
  std::string path;
  std::string body;
  std::string response_body;
};

Binding BindingOf(const google::api::HttpRule& rule) {
  Binding b;
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet:
      b = {"GET", rule.get()};
      break;
    case google::api::HttpRule::kPut:
      b = {"PUT", rule.put()};
      break;
    case google::api::HttpRule::kPost:
      b = {"POST", rule.post()};
      break;
    case google::api::HttpRule::kDelete:
      b = {"DELETE", rule.delete_()};
      break;
    case google::api::HttpRule::kPatch:
      b = {"PATCH", rule.patch()};
      break;
    case google::api::HttpRule::kCustom:
      b = {rule.custom().kind(), rule.custom().path()};
      break;
    case google::api::HttpRule::PATTERN_NOT_SET:
      break;
  }
  b.body = rule.body();
  b.response_body = rule.response_body();
  return b;
}

absl::Status BuildError(const MethodDescriptor* method, absl::string_view why) {
  return absl::FailedPreconditionError(
      absl::StrCat("google.api.http of ", method->full_name(), ": ", why));
}

absl::StatusOr<std::unique_ptr<Route>> MakeRoute(const MethodDescriptor* method,
                                                 const Binding& binding,
                                                 const FrontedService& fronted) {
  if (binding.method.empty() || binding.path.empty()) {
    return BuildError(method, "no HTTP method or path");
  }
  if (method->client_streaming()) return BuildError(method, "client streaming is not served");
  auto route = std::make_unique<Route>();
  route->http_method = binding.method;
  absl::StatusOr<PathTemplate> path = PathTemplate::Parse(binding.path);
  if (!path.ok()) return BuildError(method, path.status().message());
  route->path = *std::move(path);
  route->method = method;
  route->rpc_path = absl::StrCat("/", method->service()->full_name(), "/", method->name());
  route->backend = fronted.backend;
  route->server_streaming = method->server_streaming();
  route->anonymous = fronted.anonymous_reads && route->http_method == "GET";
  route->label = absl::StrCat(route->http_method, " ", binding.path);
  route->request_prototype =
      MessageFactory::generated_factory()->GetPrototype(method->input_type());
  route->response_prototype =
      MessageFactory::generated_factory()->GetPrototype(method->output_type());
  if (route->request_prototype == nullptr || route->response_prototype == nullptr) {
    return BuildError(method, "message types are not linked into the gateway");
  }

  for (const PathTemplate::Variable& v : route->path.variables()) {
    auto fields = ResolveFieldPath(method->input_type(), v.field_path, false);
    if (fields.empty()) {
      return BuildError(method, absl::StrCat("path variable ", v.field_path, " is not a field"));
    }
    const FieldDescriptor* leaf = fields.back();
    if (leaf->is_repeated() || leaf->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return BuildError(method, absl::StrCat("path variable ", v.field_path, " is not a scalar"));
    }
  }
  route->body = binding.body;
  if (!binding.body.empty() && binding.body != "*") {
    route->body_field = method->input_type()->FindFieldByName(binding.body);
    if (route->body_field == nullptr) {
      return BuildError(method, absl::StrCat("body field ", binding.body, " does not exist"));
    }
  }
  if (!binding.response_body.empty()) {
    route->response_body_field = method->output_type()->FindFieldByName(binding.response_body);
    if (route->response_body_field == nullptr) {
      return BuildError(method, "response_body field does not exist");
    }
  }
  return route;
}

}  // namespace

std::vector<const FieldDescriptor*> ResolveFieldPath(const Descriptor* message,
                                                     absl::string_view path,
                                                     bool accept_json_names) {
  std::vector<const FieldDescriptor*> out;
  const Descriptor* current = message;
  std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    if (current == nullptr) return {};
    std::string name(parts[i]);
    const FieldDescriptor* field = current->FindFieldByName(name);
    for (int f = 0; field == nullptr && accept_json_names && f < current->field_count(); ++f) {
      if (current->field(f)->json_name() == name) field = current->field(f);
    }
    if (field == nullptr) return {};
    bool last = i + 1 == parts.size();
    if (!last && (field->is_repeated() || field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE)) {
      return {};
    }
    out.push_back(field);
    current = field->message_type();
  }
  return out;
}

absl::StatusOr<std::unique_ptr<RouteTable>> RouteTable::Build(
    const std::vector<FrontedService>& services) {
  auto table = std::make_unique<RouteTable>();
  std::set<std::string> seen;
  for (const FrontedService& fronted : services) {
    if (fronted.service == nullptr) return absl::InvalidArgumentError("null service descriptor");
    for (int m = 0; m < fronted.service->method_count(); ++m) {
      const MethodDescriptor* method = fronted.service->method(m);
      if (!method->options().HasExtension(google::api::http)) continue;  // internal RPC
      const google::api::HttpRule& rule = method->options().GetExtension(google::api::http);
      std::vector<Binding> bindings = {BindingOf(rule)};
      for (const google::api::HttpRule& extra : rule.additional_bindings()) {
        if (extra.additional_bindings_size() > 0) {
          return BuildError(method, "additional_bindings must not nest");
        }
        bindings.push_back(BindingOf(extra));
      }
      for (const Binding& binding : bindings) {
        absl::StatusOr<std::unique_ptr<Route>> route = MakeRoute(method, binding, fronted);
        if (!route.ok()) return route.status();
        if (!seen.insert((*route)->label).second) {
          return BuildError(method, absl::StrCat("route ", (*route)->label, " is declared twice"));
        }
        table->routes_.push_back(*std::move(route));
      }
    }
  }
  return table;
}

namespace {

// A trailing slash is forgiven ("/v1/sites/" is "/v1/sites").
absl::string_view NormalizePath(absl::string_view raw_path) {
  if (raw_path.size() > 1 && raw_path.back() == '/') raw_path.remove_suffix(1);
  return raw_path;
}

// More literal segments win; then no '**'. Verb templates were preferred before this.
bool MoreSpecific(const Route* a, const Route* b) {
  if (a->path.literal_count() != b->path.literal_count()) {
    return a->path.literal_count() > b->path.literal_count();
  }
  return !a->path.has_multi_wildcard() && b->path.has_multi_wildcard();
}

}  // namespace

RouteMatch RouteTable::Match(absl::string_view http_method, absl::string_view raw_path) const {
  RouteMatch result;
  if (raw_path.empty() || raw_path[0] != '/' || !IsValidPercentEncoding(raw_path)) {
    result.outcome = RouteMatch::Outcome::kBadPath;
    return result;
  }
  absl::string_view path = NormalizePath(raw_path);

  struct Candidate {
    const Route* route;
    PathBindings bindings;
  };
  std::vector<Candidate> candidates;
  bool verb_matched = false;
  for (const auto& route : routes_) {
    PathBindings bindings;
    if (!route->path.Match(path, &bindings)) continue;
    if (!route->path.verb().empty()) verb_matched = true;
    candidates.push_back({route.get(), std::move(bindings)});
  }
  // "/v1/rotations/x:publish" is the publish verb, not GetRotation of "rotations/x:publish".
  if (verb_matched) {
    candidates.erase(
        std::remove_if(candidates.begin(), candidates.end(),
                       [](const Candidate& c) { return c.route->path.verb().empty(); }),
        candidates.end());
  }
  const Candidate* best = nullptr;
  std::set<std::string> methods;
  for (const Candidate& c : candidates) {
    methods.insert(c.route->http_method);
    if (c.route->http_method != http_method) continue;
    if (best == nullptr || MoreSpecific(c.route, best->route)) best = &c;
  }
  if (best != nullptr) {
    result.outcome = RouteMatch::Outcome::kFound;
    result.route = best->route;
    result.bindings = best->bindings;
    return result;
  }
  if (!candidates.empty()) {
    result.outcome = RouteMatch::Outcome::kMethodNotAllowed;
    result.allowed_methods.assign(methods.begin(), methods.end());
  }
  return result;
}

std::vector<std::string> RouteTable::MethodsFor(absl::string_view raw_path) const {
  RouteMatch m = Match("", raw_path);
  return m.allowed_methods;
}

}  // namespace clerkship::gateway
