#pragma once

// proto3 JSON for gateway responses, written straight from a message by reflection.
//
// The output is byte for byte what protobuf 3.21's util::MessageToJsonString prints with the
// gateway's options (lowerCamelCase json_name keys, enums by name, no whitespace,
// always_print_primitive_fields = emit_defaults): clients, caches and ETags see the same
// bytes as before, only cheaper. protobuf converts through the wire format, a TypeResolver
// and, with emit_defaults, a tree of every field; this writes into one string.
//
// What protobuf 3.21 does, and this follows:
// * Without emit_defaults, the fields on the wire in field-number order.
// * With emit_defaults, the fields in declaration order (unset singular messages and unset
//   oneof/optional scalars left out, empty repeated fields as [], empty maps as {}), then
//   the present fields protobuf renders as a bare JSON value although they are messages
//   (Timestamp, Duration, FieldMask, wrappers) or that belong to a oneof (proto3 `optional`
//   included), in field-number order. That is where protobuf's default-filling writer puts
//   them.
// * Map entries in the map's own iteration order (the order serialization uses).
//
// Any, Struct, Value, ListValue and NullValue, times and durations protobuf rejects, FieldMask
// paths that are not lower_snake_case and absurdly deep nesting are left to protobuf itself:
// the message is printed by MessageToJsonString, so the output stays identical either way.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace clerkship::gateway {

// The JSON of `message`, as util::MessageToJsonString prints it (an error exactly when
// protobuf reports one, e.g. a Timestamp out of range).
absl::StatusOr<std::string> MessageToJson(const google::protobuf::Message& message,
                                          bool emit_defaults);

// The printer alone: appends the JSON of `message` to `out` and returns true, or returns
// false (leaving `out` with partial output) for a message it leaves to protobuf.
// MessageToJson is this plus that fallback.
bool AppendMessageJson(const google::protobuf::Message& message, bool emit_defaults,
                       std::string* out);

// The JSON value of `field` of `message`: the text MessageToJson(message, emit_defaults)
// has for that member, or nullopt when that JSON leaves the field out (or, for a well-known
// type, has no members at all).
absl::StatusOr<std::optional<std::string>> FieldToJson(
    const google::protobuf::Message& message, const google::protobuf::FieldDescriptor* field,
    bool emit_defaults);

// protobuf's JSON string escaping of `text`, quotes included, appended to `out`: '"' '\\'
// '<' '>', control characters (C0, DEL, C1) and a few invisible or direction-changing code
// points become \u escapes; bytes that are not UTF-8 are dropped.
void AppendProtoJsonString(std::string* out, std::string_view text);

}  // namespace clerkship::gateway
