#pragma once

// Helpers for tests that call services through their generated stubs.

#include <grpcpp/grpcpp.h>

#include <set>
#include <string>

#include "common/auth/identity.h"
#include "common/status/status.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace clerkship::testing {

// Sets the identity headers the gateway would forward.
inline void SetIdentity(grpc::ClientContext* context, const std::string& role,
                        const std::string& principal, const std::string& site = "") {
  context->AddMetadata(auth::kRoleHeader, role);
  context->AddMetadata(auth::kPrincipalHeader, principal);
  if (!site.empty()) context->AddMetadata(auth::kSiteHeader, site);
}

inline void AsAdmin(grpc::ClientContext* c) { SetIdentity(c, "admin", "admins/root"); }
inline void AsService(grpc::ClientContext* c) { SetIdentity(c, "service", "services/test"); }

// The fields named by a status's BadRequest details.
inline std::set<std::string> ViolatedFields(const grpc::Status& status) {
  std::set<std::string> out;
  for (const auto& v : FieldViolationsOf(FromGrpcStatus(status))) out.insert(v.field);
  return out;
}

inline std::string ReasonOf(const grpc::Status& status) {
  return ErrorReasonOf(FromGrpcStatus(status));
}

// The gRPC health status of `service` ("" for the server as a whole).
inline grpc::health::v1::HealthCheckResponse::ServingStatus HealthOf(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service = "") {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = stub->Check(&context, request, &response);
  if (!s.ok()) return grpc::health::v1::HealthCheckResponse::UNKNOWN;
  return response.status();
}

}  // namespace clerkship::testing
