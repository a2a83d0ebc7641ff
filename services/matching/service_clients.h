#pragma once

// Calls from the matching service to the catalog and applicant services, always
// as the backend identity "services/matching" (role service). Asynchronous
// forms (for request handlers, which must not block) take a callback that runs
// on a gRPC client thread; synchronous forms are for the service's own
// background threads (catalog cache, waitlist consumer, round worker).

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clerkship/applicant/v1/applicant.grpc.pb.h"
#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "common/auth/identity.h"
#include "common/status/status.h"

namespace clerkship::matching {

inline constexpr char kServicePrincipal[] = "services/matching";

template <typename T>
using Done = std::function<void(absl::StatusOr<T>)>;

// Fills a client context: service identity and a deadline.
inline void PrepareContext(grpc::ClientContext* context,
                           absl::Duration timeout) {
  context->AddMetadata(auth::kRoleHeader, "service");
  context->AddMetadata(auth::kPrincipalHeader, kServicePrincipal);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

// One asynchronous unary call: `invoke(context, request, response, on_done)`
// starts it on a generated stub's async() interface; the context, request and
// response live until the callback has run.
template <typename Response, typename Request, typename Invoke>
void AsyncUnary(const Request& request, absl::Duration timeout, Invoke invoke,
                Done<Response> done) {
  struct Call {
    grpc::ClientContext context;
    Request request;
    Response response;
  };
  auto call = std::make_shared<Call>();
  call->request = request;
  PrepareContext(&call->context, timeout);
  Call* raw = call.get();
  invoke(&raw->context, &raw->request, &raw->response,
         [call = std::move(call),
          done = std::move(done)](grpc::Status status) mutable {
           if (!status.ok()) {
             done(FromGrpcStatus(status));
           } else {
             done(std::move(call->response));
           }
         });
}

class CatalogClient {
 public:
  CatalogClient(std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);

  void GetSession(const std::string& name, Done<catalog::v1::Session> done);
  void GetRotation(const std::string& name, Done<catalog::v1::Rotation> done);

  absl::StatusOr<catalog::v1::Session> GetSessionSync(const std::string& name);
  absl::StatusOr<catalog::v1::Rotation> GetRotationSync(
      const std::string& name);
  absl::StatusOr<catalog::v1::Site> GetSiteSync(const std::string& name);
  absl::StatusOr<catalog::v1::SearchRotationsResponse> SearchRotationsSync(
      const catalog::v1::SearchRotationsRequest& request);
  absl::StatusOr<catalog::v1::ListSessionsResponse> ListSessionsSync(
      const catalog::v1::ListSessionsRequest& request);

 private:
  std::unique_ptr<catalog::v1::CatalogService::Stub> stub_;
  absl::Duration timeout_;
};

class ApplicantClient {
 public:
  ApplicantClient(std::shared_ptr<grpc::Channel> channel,
                  absl::Duration timeout);

  void GetApplicant(const std::string& name,
                    Done<applicant::v1::Applicant> done);
  void ListDocuments(const applicant::v1::ListDocumentsRequest& request,
                     Done<applicant::v1::ListDocumentsResponse> done);
  void ListApplications(const applicant::v1::ListApplicationsRequest& request,
                        Done<applicant::v1::ListApplicationsResponse> done);
  void CreateMatchedOffer(
      const applicant::v1::CreateMatchedOfferRequest& request,
      Done<applicant::v1::Application> done);

  absl::StatusOr<applicant::v1::ListApplicationsResponse> ListApplicationsSync(
      const applicant::v1::ListApplicationsRequest& request);
  absl::StatusOr<applicant::v1::Application> OfferApplicationSync(
      const applicant::v1::OfferApplicationRequest& request);

 private:
  std::unique_ptr<applicant::v1::ApplicantService::Stub> stub_;
  absl::Duration timeout_;
};

}  // namespace clerkship::matching
