#include "services/gateway/transcoder.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/logging/log.h"
#include "common/status/status.h"
#include "services/gateway/json_printer.h"

namespace clerkship::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

absl::Status FieldError(absl::string_view field, absl::string_view description,
                        absl::string_view reason) {
  return WithErrorInfo(InvalidFieldError(ToValidUtf8(field), ToValidUtf8(description)), reason,
                       kGatewayErrorDomain);
}

std::string JoinPath(absl::string_view a, absl::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return absl::StrCat(a, ".", b);
}

bool IsWrapper(const Descriptor* d) {
  static const std::set<std::string> kWrappers = {
      "google.protobuf.DoubleValue", "google.protobuf.FloatValue",  "google.protobuf.Int64Value",
      "google.protobuf.UInt64Value", "google.protobuf.Int32Value",  "google.protobuf.UInt32Value",
      "google.protobuf.BoolValue",   "google.protobuf.StringValue", "google.protobuf.BytesValue"};
  return kWrappers.count(d->full_name()) > 0;
}

// Well-known types whose JSON form is a string.
bool IsStringWellKnownType(const Descriptor* d) {
  return d->full_name() == "google.protobuf.Timestamp" ||
         d->full_name() == "google.protobuf.Duration" ||
         d->full_name() == "google.protobuf.FieldMask";
}

template <typename T>
bool ParseInteger(absl::string_view text, T* out) {
  return absl::SimpleAtoi(text, out);
}

bool ParseFloating(absl::string_view text, double* out) {
  if (text == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (text == "Infinity") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == "-Infinity") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  // absl accepts "inf"/"nan" spellings too; only the proto3 JSON ones are meant.
  if (absl::StrContains(absl::AsciiStrToLower(text), "n")) return false;
  return absl::SimpleAtod(text, out);
}

}  // namespace

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if there is none.
size_t Utf8SequenceLength(const unsigned char* s, size_t n, size_t i) {
  unsigned char c = s[i];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > n) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((s[i + k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i + k] & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
    return 0;
  }
  return len;
}

}  // namespace

bool IsValidUtf8(absl::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t i = 0; i < text.size();) {
    size_t len = Utf8SequenceLength(s, text.size(), i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string ToValidUtf8(absl::string_view text) {
  if (IsValidUtf8(text)) return std::string(text);
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t i = 0; i < text.size();) {
    size_t len = Utf8SequenceLength(s, text.size(), i);
    if (len == 0) {
      out.append("\xEF\xBF\xBD");
      ++i;
    } else {
      out.append(text.data() + i, len);
      i += len;
    }
  }
  return out;
}

absl::StatusOr<QueryParams> ParseQueryString(absl::string_view query) {
  QueryParams params;
  if (query.empty()) return params;
  for (absl::string_view part : absl::StrSplit(query, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    absl::string_view raw_key = part.substr(0, eq);
    absl::string_view raw_value =
        eq == absl::string_view::npos ? absl::string_view() : part.substr(eq + 1);
    std::string key, value;
    if (!QueryDecode(raw_key, &key)) {
      return FieldError(raw_key, "malformed percent-encoding in the parameter name",
                        "MALFORMED_QUERY");
    }
    if (!QueryDecode(raw_value, &value)) {
      return FieldError(key, "malformed percent-encoding in the value", "MALFORMED_QUERY");
    }
    if (key.empty()) continue;
    params.emplace_back(std::move(key), std::move(value));
  }
  return params;
}

absl::Status SetFieldFromText(Message* message, const std::vector<const FieldDescriptor*>& path,
                              absl::string_view text, absl::string_view name) {
  Message* target = message;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    target = target->GetReflection()->MutableMessage(target, path[i]);
  }
  const FieldDescriptor* field = path.back();
  const Reflection* r = target->GetReflection();
  const bool repeated = field->is_repeated();
  auto bad = [&](absl::string_view what) {
    return FieldError(name, absl::StrCat("invalid value for ", what), "INVALID_FIELD_VALUE");
  };

  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string value;
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        if (!absl::WebSafeBase64Unescape(text, &value) && !absl::Base64Unescape(text, &value)) {
          return bad("bytes (base64 expected)");
        }
      } else {
        if (!IsValidUtf8(text)) return bad("a string (not valid UTF-8)");
        // A NUL would be cut off or kept differently by every layer behind the gateway.
        if (text.find('\0') != absl::string_view::npos) {
          return bad("a string (contains a NUL character)");
        }
        value = std::string(text);
      }
      repeated ? r->AddString(target, field, std::move(value))
               : r->SetString(target, field, std::move(value));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!ParseInteger(text, &v)) return bad("a 32-bit integer");
      repeated ? r->AddInt32(target, field, v) : r->SetInt32(target, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!ParseInteger(text, &v)) return bad("a 64-bit integer");
      repeated ? r->AddInt64(target, field, v) : r->SetInt64(target, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!ParseInteger(text, &v)) return bad("an unsigned 32-bit integer");
      repeated ? r->AddUInt32(target, field, v) : r->SetUInt32(target, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!ParseInteger(text, &v)) return bad("an unsigned 64-bit integer");
      repeated ? r->AddUInt64(target, field, v) : r->SetUInt64(target, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      double v;
      if (!ParseFloating(text, &v)) return bad("a number");
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        repeated ? r->AddDouble(target, field, v) : r->SetDouble(target, field, v);
      } else {
        if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max()) {
          return bad("a 32-bit float");
        }
        auto f = static_cast<float>(v);
        repeated ? r->AddFloat(target, field, f) : r->SetFloat(target, field, f);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (text == "true" || text == "1") {
        v = true;
      } else if (text == "false" || text == "0") {
        v = false;
      } else {
        return bad("a boolean (true or false)");
      }
      repeated ? r->AddBool(target, field, v) : r->SetBool(target, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* value = field->enum_type()->FindValueByName(std::string(text));
      int number;
      if (value == nullptr && absl::SimpleAtoi(text, &number)) {
        value = field->enum_type()->FindValueByNumber(number);
      }
      if (value == nullptr) {
        return FieldError(
            name, absl::StrCat("unknown value \"", text, "\" of ", field->enum_type()->name()),
            "INVALID_FIELD_VALUE");
      }
      repeated ? r->AddEnum(target, field, value) : r->SetEnum(target, field, value);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Descriptor* type = field->message_type();
      if (field->is_map() || (!IsWrapper(type) && !IsStringWellKnownType(type))) {
        return FieldError(name, "a message field cannot be set from text; name one of its fields",
                          "UNSUPPORTED_PARAMETER");
      }
      Message* sub = repeated ? r->AddMessage(target, field) : r->MutableMessage(target, field);
      if (IsWrapper(type)) {
        return SetFieldFromText(sub, {type->FindFieldByName("value")}, text, name);
      }
      if (!IsValidUtf8(text)) return bad(type->full_name());
      std::string json;
      log::AppendJsonString(&json, text);
      google::protobuf::util::JsonParseOptions options;
      if (!google::protobuf::util::JsonStringToMessage(json, sub, options).ok()) {
        return bad(type->full_name());
      }
      return absl::OkStatus();
    }
  }
  return bad("this field");
}

namespace {

// What protobuf's JSON parser lets through or reports without naming the field: a key
// given twice in one object (protobuf keeps the last one, so what the client meant is a
// guess) and a number beyond the range of a double (1e400). One SAX pass over the body,
// with an explicit stack (no recursion, whatever the nesting), naming the field by the keys
// that lead to it. Other syntax errors are left to protobuf's parser and its messages.
class JsonPrecheck final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit JsonPrecheck(absl::string_view field_prefix) : prefix_(field_prefix) {}

  const absl::Status& status() const { return status_; }

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override {
    frames_.push_back(Frame{true, {}, {}});
    return true;
  }
  bool key(string_t& key) override {
    Frame& frame = frames_.back();
    if (!frame.keys.insert(key).second) {
      frame.key = key;
      status_ = FieldError(Path(), "appears more than once in the same JSON object",
                           "DUPLICATE_FIELD");
      return false;
    }
    frame.key = key;
    return true;
  }
  bool end_object() override { return End(); }
  bool start_array(std::size_t) override {
    frames_.push_back(Frame{false, {}, {}});
    return true;
  }
  bool end_array() override { return End(); }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& e) override {
    // 406: a number out of range. Anything else is protobuf's to report.
    if (e.id == 406 && !frames_.empty()) {
      status_ = FieldError(Path(), "is a number out of range", "INVALID_FIELD_VALUE");
    }
    return false;
  }

 private:
  struct Frame {
    bool object;
    std::string key;
    std::set<std::string> keys;
  };

  bool Value() { return true; }
  bool End() {
    frames_.pop_back();
    return true;
  }
  std::string Path() const {
    std::string path(prefix_);
    for (const Frame& f : frames_) {
      if (f.object && !f.key.empty()) path = JoinPath(path, f.key);
    }
    return ToValidUtf8(path);
  }

  std::string prefix_;
  std::vector<Frame> frames_;
  absl::Status status_;
};

}  // namespace

absl::Status ParseJsonBody(absl::string_view json, Message* target,
                           absl::string_view field_prefix) {
  JsonPrecheck precheck(field_prefix);
  (void)nlohmann::json::sax_parse(json.begin(), json.end(), &precheck,
                                  nlohmann::json::input_format_t::json, /*strict=*/true);
  if (!precheck.status().ok()) return precheck.status();

  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  options.case_insensitive_enum_parsing = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), target, options);
  if (status.ok()) return absl::OkStatus();

  // protobuf 3.21 reports "(a.b) name: Cannot find field." for unknown fields and
  // "(a.b): invalid value ..." for bad values; everything else is malformed JSON.
  absl::string_view message(status.message().data(), status.message().size());
  message = message.substr(0, message.find('\n'));
  absl::string_view rest = message;
  std::string path;
  if (absl::ConsumePrefix(&rest, "(")) {
    size_t close = rest.find(')');
    if (close != absl::string_view::npos) {
      path = std::string(rest.substr(0, close));
      rest.remove_prefix(close + 1);
    }
  }
  constexpr absl::string_view kUnknown = ": Cannot find field.";
  if (absl::EndsWith(rest, kUnknown)) {
    absl::string_view name =
        absl::StripAsciiWhitespace(rest.substr(0, rest.size() - kUnknown.size()));
    std::string field = ToValidUtf8(JoinPath(field_prefix, JoinPath(path, name)));
    return WithErrorInfo(InvalidArgumentError({{field, "unknown field"}}), "UNKNOWN_FIELD",
                         kGatewayErrorDomain);
  }
  if (!path.empty() && absl::ConsumePrefix(&rest, ":")) {
    std::string field = JoinPath(field_prefix, path);
    return FieldError(field, absl::StripAsciiWhitespace(rest), "INVALID_FIELD_VALUE");
  }
  std::string why(absl::StripAsciiWhitespace(absl::StripPrefix(message, ":")));
  if (why == "Root element must be a message.") why = "the body must be a JSON object";
  return ErrorWithInfo(absl::StatusCode::kInvalidArgument,
                       ToValidUtf8(absl::StrCat("malformed JSON body: ", why)), "MALFORMED_JSON",
                       kGatewayErrorDomain);
}

absl::Status BuildRequest(const Route& route, const PathBindings& bindings, absl::string_view query,
                          absl::string_view body, Message* request) {
  const Descriptor* type = request->GetDescriptor();
  absl::string_view trimmed_body = absl::StripAsciiWhitespace(body);

  // 1. The body.
  if (!route.body.empty() && !trimmed_body.empty()) {
    if (route.body == "*") {
      if (absl::Status s = ParseJsonBody(trimmed_body, request, ""); !s.ok()) return s;
    } else if (route.body_field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
               !route.body_field->is_repeated()) {
      Message* sub = request->GetReflection()->MutableMessage(request, route.body_field);
      if (absl::Status s = ParseJsonBody(trimmed_body, sub, route.body_field->name()); !s.ok()) {
        return s;
      }
    } else {
      // A scalar or repeated body field: the body is that field's JSON value. Checked as one
      // JSON value first so the wrapping below cannot be used to set other fields.
      if (!nlohmann::json::accept(trimmed_body.begin(), trimmed_body.end())) {
        return ErrorWithInfo(absl::StatusCode::kInvalidArgument, "malformed JSON body",
                             "MALFORMED_JSON", kGatewayErrorDomain);
      }
      std::string wrapped;
      log::AppendJsonString(&wrapped, route.body_field->json_name());
      wrapped = absl::StrCat("{", wrapped, ":", trimmed_body, "}");
      if (absl::Status s = ParseJsonBody(wrapped, request, ""); !s.ok()) return s;
    }
  }

  // 2. Query parameters, for the fields neither the path nor the body carries.
  absl::StatusOr<QueryParams> params = ParseQueryString(query);
  if (!params.ok()) return params.status();
  std::set<std::string> seen;
  std::vector<FieldViolation> violations;
  for (const auto& [raw_key, value] : *params) {
    const std::string key = ToValidUtf8(raw_key);
    if (route.body == "*") {
      violations.push_back({key,
                            "not a query parameter of this method: every field goes in the "
                            "JSON body"});
      continue;
    }
    auto fields = ResolveFieldPath(type, key, /*accept_json_names=*/true);
    if (fields.empty()) {
      violations.push_back({key, "unknown query parameter"});
      continue;
    }
    std::vector<std::string> proto_names;
    for (const FieldDescriptor* f : fields) proto_names.push_back(f->name());
    std::string proto_path = absl::StrJoin(proto_names, ".");
    bool bound_elsewhere = route.body_field != nullptr && fields.front() == route.body_field;
    for (const PathTemplate::Variable& v : route.path.variables()) {
      if (proto_path == v.field_path || absl::StartsWith(proto_path, v.field_path + ".") ||
          absl::StartsWith(v.field_path, proto_path + ".")) {
        bound_elsewhere = true;
      }
    }
    if (bound_elsewhere) {
      violations.push_back({key, "this field is set by the URL path or the body, not the query"});
      continue;
    }
    if (!fields.back()->is_repeated() && !seen.insert(proto_path).second) {
      violations.push_back({key, "given more than once; the field is not repeated"});
      continue;
    }
    absl::Status s = SetFieldFromText(request, fields, value, key);
    if (!s.ok()) {
      for (FieldViolation& v : FieldViolationsOf(s)) violations.push_back(std::move(v));
    }
  }
  if (!violations.empty()) {
    return WithErrorInfo(InvalidArgumentError(std::move(violations)), "INVALID_QUERY_PARAMETER",
                         kGatewayErrorDomain);
  }

  // 3. Path variables win over anything the body said.
  for (const auto& [field_path, value] : bindings) {
    auto fields = ResolveFieldPath(type, field_path, false);
    if (fields.empty()) {
      return absl::InternalError(absl::StrCat("route variable ", field_path, " does not resolve"));
    }
    if (fields.back()->cpp_type() == FieldDescriptor::CPPTYPE_STRING &&
        !fields.back()->is_repeated()) {
      Message* target = request;
      for (size_t i = 0; i + 1 < fields.size(); ++i) {
        target = target->GetReflection()->MutableMessage(target, fields[i]);
      }
      // Replaces, so a body value of the same field cannot survive.
      if (!IsValidUtf8(value)) {
        return FieldError(field_path, "the URL path is not valid UTF-8", "INVALID_PATH");
      }
      if (value.find('\0') != std::string::npos) {
        return FieldError(field_path, "the URL path contains a NUL character", "INVALID_PATH");
      }
      target->GetReflection()->SetString(target, fields.back(), value);
      continue;
    }
    if (absl::Status s = SetFieldFromText(request, fields, value, field_path); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ResponseToJson(const Route& route, const Message& response,
                                           bool emit_defaults) {
  const FieldDescriptor* only = route.response_body_field;
  if (only == nullptr) return MessageToJson(response, emit_defaults);
  if (only->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !only->is_repeated()) {
    return MessageToJson(response.GetReflection()->GetMessage(response, only), emit_defaults);
  }
  // A scalar, repeated or map member: its JSON exactly as it would appear inside the whole
  // response. A member the whole response would leave out (a zero value without
  // emit_defaults, an unset oneof member) is null.
  absl::StatusOr<std::optional<std::string>> member =
      FieldToJson(response, only, emit_defaults);
  if (!member.ok()) return member.status();
  if (!member->has_value()) return std::string("null");
  return *std::move(*member);
}

}  // namespace clerkship::gateway
