#pragma once

// The gateway's routes, read from the google.api.http annotations of the services it fronts.
// Nothing here names an RPC: a new annotated RPC in a fronted service is routed as soon as the
// gateway is rebuilt with the new descriptors.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/gateway/path_template.h"

namespace clerkship::gateway {

// A gRPC service and the backend (by name, e.g. "catalog") that serves it.
struct FrontedService {
  const google::protobuf::ServiceDescriptor* service = nullptr;
  std::string backend;
  // GET routes of this service work without a token (catalog browsing).
  bool anonymous_reads = false;
};

struct Route {
  std::string http_method;  // "GET", "POST", ... (custom kinds as written)
  PathTemplate path;
  // "" = no body, "*" = the whole request message, else a top-level request field.
  std::string body;
  const google::protobuf::FieldDescriptor* body_field = nullptr;
  // "" or a response field whose value is the HTTP response body.
  const google::protobuf::FieldDescriptor* response_body_field = nullptr;
  const google::protobuf::MethodDescriptor* method = nullptr;
  const google::protobuf::Message* request_prototype = nullptr;
  const google::protobuf::Message* response_prototype = nullptr;
  std::string rpc_path;  // "/clerkship.catalog.v1.CatalogService/GetSite"
  std::string backend;
  bool server_streaming = false;
  bool anonymous = false;  // may be called without a token
  // "GET /v1/{name=sites/*}": the label used in metrics and logs.
  std::string label;
};

struct RouteMatch {
  enum class Outcome { kFound, kNotFound, kMethodNotAllowed, kBadPath };
  Outcome outcome = Outcome::kNotFound;
  const Route* route = nullptr;
  PathBindings bindings;
  std::vector<std::string> allowed_methods;  // kMethodNotAllowed
};

class RouteTable {
 public:
  // Fails on an annotation the gateway cannot serve (bad template, unknown field), so a
  // broken proto is caught at start-up rather than on the first request.
  static absl::StatusOr<std::unique_ptr<RouteTable>> Build(
      const std::vector<FrontedService>& services);

  // raw_path: the request target's path, percent-encoded, without the query string.
  RouteMatch Match(absl::string_view http_method, absl::string_view raw_path) const;
  // Whether any route answers this path, and with which methods (for OPTIONS).
  std::vector<std::string> MethodsFor(absl::string_view raw_path) const;

  const std::vector<std::unique_ptr<Route>>& routes() const { return routes_; }

 private:
  std::vector<std::unique_ptr<Route>> routes_;
};

// Finds a field by a dotted path of proto names ("rotation.name"); every step but the last
// must be a singular message field. Empty vector when the path does not resolve.
std::vector<const google::protobuf::FieldDescriptor*> ResolveFieldPath(
    const google::protobuf::Descriptor* message, absl::string_view path, bool accept_json_names);

}  // namespace clerkship::gateway
