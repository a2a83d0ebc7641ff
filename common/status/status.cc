#include "common/status/status.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "google/protobuf/any.pb.h"

namespace clerkship {
namespace {

constexpr char kTypePrefix[] = "type.googleapis.com/";

template <typename Message>
std::string TypeUrl() {
  return std::string(kTypePrefix) + Message::descriptor()->full_name();
}

template <typename Message>
bool GetPayload(const absl::Status& status, Message* out) {
  auto payload = status.GetPayload(TypeUrl<Message>());
  if (!payload.has_value()) return false;
  return out->ParseFromString(std::string(*payload));
}

template <typename Message>
void SetPayload(absl::Status* status, const Message& message) {
  status->SetPayload(TypeUrl<Message>(), absl::Cord(message.SerializeAsString()));
}

}  // namespace

absl::Status InvalidArgumentError(std::vector<FieldViolation> violations) {
  std::string message = "invalid argument";
  google::rpc::BadRequest bad_request;
  for (size_t i = 0; i < violations.size(); ++i) {
    const FieldViolation& v = violations[i];
    message += (i == 0 ? ": " : "; ");
    message += v.field + ": " + v.description;
    auto* fv = bad_request.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  absl::Status status = absl::InvalidArgumentError(message);
  SetPayload(&status, bad_request);
  return status;
}

absl::Status InvalidFieldError(absl::string_view field, absl::string_view description) {
  return InvalidArgumentError({{std::string(field), std::string(description)}});
}

absl::Status PreconditionFailedError(absl::string_view message,
                                     std::vector<PreconditionViolation> violations,
                                     absl::string_view reason, absl::string_view domain) {
  absl::Status status = absl::FailedPreconditionError(message);
  google::rpc::PreconditionFailure failure;
  for (const PreconditionViolation& v : violations) {
    auto* pv = failure.add_violations();
    pv->set_type(v.type);
    pv->set_subject(v.subject);
    pv->set_description(v.description);
  }
  SetPayload(&status, failure);
  return WithErrorInfo(std::move(status), reason, domain);
}

absl::Status ErrorWithInfo(absl::StatusCode code, absl::string_view message,
                           absl::string_view reason, absl::string_view domain) {
  return WithErrorInfo(absl::Status(code, message), reason, domain);
}

absl::Status WithErrorInfo(absl::Status status, absl::string_view reason,
                           absl::string_view domain) {
  if (status.ok()) return status;
  google::rpc::ErrorInfo existing;
  if (GetPayload(status, &existing)) return status;
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(domain));
  SetPayload(&status, info);
  return status;
}

std::vector<FieldViolation> FieldViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> out;
  google::rpc::BadRequest bad_request;
  if (!GetPayload(status, &bad_request)) return out;
  for (const auto& fv : bad_request.field_violations()) {
    out.push_back({fv.field(), fv.description()});
  }
  return out;
}

std::vector<PreconditionViolation> PreconditionViolationsOf(const absl::Status& status) {
  std::vector<PreconditionViolation> out;
  google::rpc::PreconditionFailure failure;
  if (!GetPayload(status, &failure)) return out;
  for (const auto& v : failure.violations()) {
    out.push_back({v.type(), v.subject(), v.description()});
  }
  return out;
}

std::string ErrorReasonOf(const absl::Status& status) {
  google::rpc::ErrorInfo info;
  if (!GetPayload(status, &info)) return "";
  return info.reason();
}

google::rpc::Status ToRpcStatus(const absl::Status& status) {
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(std::string(status.message()));
  status.ForEachPayload([&rpc](absl::string_view type_url, const absl::Cord& payload) {
    if (!absl::StartsWith(type_url, kTypePrefix)) return;
    google::protobuf::Any* any = rpc.add_details();
    any->set_type_url(std::string(type_url));
    any->set_value(std::string(payload));
  });
  return rpc;
}

absl::Status FromRpcStatus(const google::rpc::Status& rpc) {
  absl::Status status(static_cast<absl::StatusCode>(rpc.code()), rpc.message());
  if (status.ok()) return status;
  for (const google::protobuf::Any& any : rpc.details()) {
    status.SetPayload(any.type_url(), absl::Cord(any.value()));
  }
  return status;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rpc = ToRpcStatus(status);
  std::string details;
  if (rpc.details_size() > 0) details = rpc.SerializeAsString();
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()), details);
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  google::rpc::Status rpc;
  if (!status.error_details().empty() && rpc.ParseFromString(status.error_details())) {
    // Trust the transport's code and message over a mismatching details blob.
    rpc.set_code(status.error_code());
    rpc.set_message(status.error_message());
    return FromRpcStatus(rpc);
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace clerkship
