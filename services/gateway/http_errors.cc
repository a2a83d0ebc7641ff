#include "services/gateway/http_errors.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/error_info.pb.h"

namespace clerkship::gateway {

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnknown:
      return 500;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    // A state rule of the resource failed (wrong state, documents not ready): the request was
    // well-formed, so not 400.
    case absl::StatusCode::kFailedPrecondition:
      return 412;
    // A stale etag or a lost race: retrying after a fresh read can succeed.
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kInternal:
      return 500;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDataLoss:
      return 500;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    default:
      return 500;
  }
}

std::string ErrorJson(int http_status, absl::StatusCode code, absl::string_view message,
                      const google::rpc::Status* details) {
  nlohmann::ordered_json error;
  error["code"] = http_status;
  error["status"] = absl::StatusCodeToString(code);
  // Invalid UTF-8 in a message (it may quote client input) must not break the JSON.
  error["message"] = std::string(message);
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  if (details != nullptr) {
    google::protobuf::util::JsonPrintOptions options;
    for (const google::protobuf::Any& any : details->details()) {
      std::string json;
      nlohmann::ordered_json item;
      if (google::protobuf::util::MessageToJsonString(any, &json, options).ok()) {
        item = nlohmann::ordered_json::parse(json, nullptr, false);
      }
      if (item.is_discarded() || !item.is_object()) {
        item = nlohmann::ordered_json::object();
        item["@type"] = any.type_url();
      }
      list.push_back(std::move(item));
    }
  }
  error["details"] = std::move(list);
  nlohmann::ordered_json body;
  body["error"] = std::move(error);
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

HttpError ErrorFromStatus(const absl::Status& status) {
  google::rpc::Status rpc = ToRpcStatus(status);
  HttpError e;
  e.http_status = HttpStatusFor(status.code());
  e.body = ErrorJson(e.http_status, status.code(), status.message(), &rpc);
  return e;
}

HttpError ErrorFromGrpc(const grpc::Status& status) {
  auto code = static_cast<absl::StatusCode>(status.error_code());
  google::rpc::Status details;
  bool has_details = !status.error_details().empty() &&
                     details.ParseFromString(status.error_details()) && details.details_size() > 0;
  std::string message = status.error_message();
  if (!has_details) {
    switch (code) {
      case absl::StatusCode::kUnavailable:
        message = "the service is temporarily unavailable; try again";
        break;
      case absl::StatusCode::kDeadlineExceeded:
        message = "the request took longer than its deadline";
        break;
      case absl::StatusCode::kUnknown:
      case absl::StatusCode::kInternal:
      case absl::StatusCode::kDataLoss:
        message = "internal error";
        break;
      case absl::StatusCode::kCancelled:
        message = "the request was cancelled";
        break;
      default:
        break;
    }
  }
  HttpError e;
  e.http_status = HttpStatusFor(code);
  e.body = ErrorJson(e.http_status, code, message, has_details ? &details : nullptr);
  return e;
}

HttpError PlainError(int http_status, absl::StatusCode code, absl::string_view message,
                     absl::string_view reason) {
  return {http_status, [&] {
            absl::Status s = ErrorWithInfo(code, message, reason, "clerkship.gateway");
            google::rpc::Status rpc = ToRpcStatus(s);
            return ErrorJson(http_status, code, message, &rpc);
          }()};
}

}  // namespace clerkship::gateway
