#pragma once

// Errors inside the services are absl::Status values. Rich details (the google.rpc
// BadRequest / ErrorInfo / PreconditionFailure messages) ride along as payloads keyed by
// their type URL, so that domain code can build them without touching gRPC, and the RPC
// edge turns them into a google.rpc.Status carried in grpc-status-details-bin.

#include <string>
#include <utility>
#include <vector>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/error_info.pb.h"
#include "google/rpc/status.pb.h"

namespace clerkship {

struct FieldViolation {
  std::string field;        // path as in the request message, e.g. "rotation.fees.program_fee_cents"
  std::string description;  // what is wrong, in plain words
};

struct PreconditionViolation {
  std::string type;         // e.g. "DOCUMENT_MISSING", "ELIGIBILITY"
  std::string subject;      // e.g. "documentKinds/PASSPORT"
  std::string description;  // plain words
};

// INVALID_ARGUMENT carrying one BadRequest field violation per bad field.
absl::Status InvalidArgumentError(std::vector<FieldViolation> violations);
absl::Status InvalidFieldError(absl::string_view field, absl::string_view description);

// FAILED_PRECONDITION carrying a PreconditionFailure (and an ErrorInfo reason).
absl::Status PreconditionFailedError(absl::string_view message,
                                     std::vector<PreconditionViolation> violations,
                                     absl::string_view reason = "PRECONDITION_FAILED",
                                     absl::string_view domain = "clerkship");

// Any code with an ErrorInfo {reason, domain}: reason is UPPER_SNAKE, domain
// clerkship.<service>.
absl::Status ErrorWithInfo(absl::StatusCode code, absl::string_view message,
                           absl::string_view reason, absl::string_view domain);

// Adds an ErrorInfo to an existing status (kept if one is there already).
absl::Status WithErrorInfo(absl::Status status, absl::string_view reason,
                           absl::string_view domain);

// Reads details back out of an absl::Status (empty when absent).
std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status);
std::vector<PreconditionViolation> PreconditionViolationsOf(const absl::Status& status);
std::string ErrorReasonOf(const absl::Status& status);

// The google.rpc.Status equivalent of an absl::Status, details included.
google::rpc::Status ToRpcStatus(const absl::Status& status);
absl::Status FromRpcStatus(const google::rpc::Status& status);

// RPC edge conversions. ToGrpcStatus serialises the details into error_details (sent as
// grpc-status-details-bin); FromGrpcStatus restores them.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace clerkship
