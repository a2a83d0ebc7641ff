#pragma once

// HTTP/JSON ⇄ protobuf for one route, following google.api.http: the body (all of it for
// `body: "*"`, or one request field), then query parameters for the fields neither the path
// nor the body binds, then the path variables. JSON uses the proto3 mapping (lowerCamelCase,
// enums by name, int64 as strings). Every client mistake comes back as INVALID_ARGUMENT with a
// BadRequest field violation naming the field as the client wrote it.

#include <google/protobuf/message.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/gateway/path_template.h"
#include "services/gateway/route_table.h"

namespace clerkship::gateway {

inline constexpr char kGatewayErrorDomain[] = "clerkship.gateway";

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Splits and decodes "a=1&b=x+y&c=%2F". A parameter without '=' has the value "".
absl::StatusOr<QueryParams> ParseQueryString(absl::string_view query);

// Builds the request message of `route` (request must be an empty message of its input type).
absl::Status BuildRequest(const Route& route, const PathBindings& bindings, absl::string_view query,
                          absl::string_view body, google::protobuf::Message* request);

// Parses JSON into `target`; `field_prefix` is the proto path of `target` inside the request,
// used to name fields in errors ("site" → "site.fooBar").
absl::Status ParseJsonBody(absl::string_view json, google::protobuf::Message* target,
                           absl::string_view field_prefix);

// Sets the field at `path` (last element scalar, enum, or a well-known type written as a
// string) from its text form; repeated fields get the value appended. `name` names the field
// in errors.
absl::Status SetFieldFromText(google::protobuf::Message* message,
                              const std::vector<const google::protobuf::FieldDescriptor*>& path,
                              absl::string_view text, absl::string_view name);

// The JSON body of a response: the message, or for a route with a response_body the value
// that member has in the message's JSON ("null" when that JSON leaves it out; a singular
// message member is printed as a message of its own). Byte for byte what protobuf's
// MessageToJsonString prints (see json_printer.h). emit_defaults prints zero values (0,
// false, "", []) too, so clients see every field of the schema.
absl::StatusOr<std::string> ResponseToJson(const Route& route,
                                           const google::protobuf::Message& response,
                                           bool emit_defaults);

bool IsValidUtf8(absl::string_view text);
// `text` with every invalid UTF-8 sequence replaced by U+FFFD: client bytes quoted in errors
// (field names, values) must not make the google.rpc details unserializable.
std::string ToValidUtf8(absl::string_view text);

}  // namespace clerkship::gateway
