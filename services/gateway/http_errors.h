#pragma once

// gRPC status → HTTP status and the JSON error body clients see:
//
//   {"error": {"code": 404, "status": "NOT_FOUND", "message": "...",
//              "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", ...}]}}
//
// `code` is the HTTP status, `status` the gRPC code name, `details` the google.rpc details
// the service attached (BadRequest, PreconditionFailure, ErrorInfo) in the proto3 JSON form.

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/status.pb.h"

namespace clerkship::gateway {

// OK 200, INVALID_ARGUMENT/OUT_OF_RANGE 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
// NOT_FOUND 404, ALREADY_EXISTS/ABORTED 409, FAILED_PRECONDITION 412, RESOURCE_EXHAUSTED 429,
// CANCELLED 499, UNKNOWN/INTERNAL/DATA_LOSS 500, UNIMPLEMENTED 501, UNAVAILABLE 503,
// DEADLINE_EXCEEDED 504.
int HttpStatusFor(absl::StatusCode code);

struct HttpError {
  int http_status = 500;
  std::string body;  // JSON
};

// The gateway's own errors (details from the absl::Status payloads, as in common/status).
HttpError ErrorFromStatus(const absl::Status& status);

// A backend's answer; the details come from grpc-status-details-bin. Transport failures carry
// no details and their messages name internal addresses, so those are replaced by a generic
// message (the caller logs the original).
HttpError ErrorFromGrpc(const grpc::Status& status);

// An error made up on the spot by the HTTP layer (405, 413, 431 ...), with an ErrorInfo reason.
HttpError PlainError(int http_status, absl::StatusCode code, absl::string_view message,
                     absl::string_view reason);

std::string ErrorJson(int http_status, absl::StatusCode code, absl::string_view message,
                      const google::rpc::Status* details);

}  // namespace clerkship::gateway
