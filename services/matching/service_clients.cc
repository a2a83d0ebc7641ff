#include "services/matching/service_clients.h"

namespace clerkship::matching {
namespace {

template <typename Response, typename Request, typename Method>
absl::StatusOr<Response> SyncUnary(const Request& request,
                                   absl::Duration timeout, Method method) {
  grpc::ClientContext context;
  PrepareContext(&context, timeout);
  Response response;
  grpc::Status status = method(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace

CatalogClient::CatalogClient(std::shared_ptr<grpc::Channel> channel,
                             absl::Duration timeout)
    : stub_(catalog::v1::CatalogService::NewStub(std::move(channel))),
      timeout_(timeout) {}

void CatalogClient::GetSession(const std::string& name,
                               Done<catalog::v1::Session> done) {
  catalog::v1::GetSessionRequest request;
  request.set_name(name);
  AsyncUnary<catalog::v1::Session>(
      request, timeout_,
      [this](auto* c, auto* req, auto* resp, auto cb) {
        stub_->async()->GetSession(c, req, resp, std::move(cb));
      },
      std::move(done));
}

void CatalogClient::GetRotation(const std::string& name,
                                Done<catalog::v1::Rotation> done) {
  catalog::v1::GetRotationRequest request;
  request.set_name(name);
  AsyncUnary<catalog::v1::Rotation>(
      request, timeout_,
      [this](auto* c, auto* req, auto* resp, auto cb) {
        stub_->async()->GetRotation(c, req, resp, std::move(cb));
      },
      std::move(done));
}

absl::StatusOr<catalog::v1::Session> CatalogClient::GetSessionSync(
    const std::string& name) {
  catalog::v1::GetSessionRequest request;
  request.set_name(name);
  return SyncUnary<catalog::v1::Session>(request, timeout_,
                                         [this](auto* c, auto& r, auto* out) {
                                           return stub_->GetSession(c, r, out);
                                         });
}

absl::StatusOr<catalog::v1::Rotation> CatalogClient::GetRotationSync(
    const std::string& name) {
  catalog::v1::GetRotationRequest request;
  request.set_name(name);
  return SyncUnary<catalog::v1::Rotation>(
      request, timeout_, [this](auto* c, auto& r, auto* out) {
        return stub_->GetRotation(c, r, out);
      });
}

absl::StatusOr<catalog::v1::Site> CatalogClient::GetSiteSync(
    const std::string& name) {
  catalog::v1::GetSiteRequest request;
  request.set_name(name);
  return SyncUnary<catalog::v1::Site>(request, timeout_,
                                      [this](auto* c, auto& r, auto* out) {
                                        return stub_->GetSite(c, r, out);
                                      });
}

absl::StatusOr<catalog::v1::SearchRotationsResponse>
CatalogClient::SearchRotationsSync(
    const catalog::v1::SearchRotationsRequest& request) {
  return SyncUnary<catalog::v1::SearchRotationsResponse>(
      request, timeout_, [this](auto* c, auto& r, auto* out) {
        return stub_->SearchRotations(c, r, out);
      });
}

absl::StatusOr<catalog::v1::ListSessionsResponse>
CatalogClient::ListSessionsSync(
    const catalog::v1::ListSessionsRequest& request) {
  return SyncUnary<catalog::v1::ListSessionsResponse>(
      request, timeout_, [this](auto* c, auto& r, auto* out) {
        return stub_->ListSessions(c, r, out);
      });
}

ApplicantClient::ApplicantClient(std::shared_ptr<grpc::Channel> channel,
                                 absl::Duration timeout)
    : stub_(applicant::v1::ApplicantService::NewStub(std::move(channel))),
      timeout_(timeout) {}

void ApplicantClient::GetApplicant(const std::string& name,
                                   Done<applicant::v1::Applicant> done) {
  applicant::v1::GetApplicantRequest request;
  request.set_name(name);
  AsyncUnary<applicant::v1::Applicant>(
      request, timeout_,
      [this](auto* c, auto* req, auto* resp, auto cb) {
        stub_->async()->GetApplicant(c, req, resp, std::move(cb));
      },
      std::move(done));
}

void ApplicantClient::ListDocuments(
    const applicant::v1::ListDocumentsRequest& request,
    Done<applicant::v1::ListDocumentsResponse> done) {
  AsyncUnary<applicant::v1::ListDocumentsResponse>(
      request, timeout_,
      [this](auto* c, auto* req, auto* resp, auto cb) {
        stub_->async()->ListDocuments(c, req, resp, std::move(cb));
      },
      std::move(done));
}

void ApplicantClient::ListApplications(
    const applicant::v1::ListApplicationsRequest& request,
    Done<applicant::v1::ListApplicationsResponse> done) {
  AsyncUnary<applicant::v1::ListApplicationsResponse>(
      request, timeout_,
      [this](auto* c, auto* req, auto* resp, auto cb) {
        stub_->async()->ListApplications(c, req, resp, std::move(cb));
      },
      std::move(done));
}

void ApplicantClient::CreateMatchedOffer(
    const applicant::v1::CreateMatchedOfferRequest& request,
    Done<applicant::v1::Application> done) {
  AsyncUnary<applicant::v1::Application>(
      request, timeout_,
      [this](auto* c, auto* req, auto* resp, auto cb) {
        stub_->async()->CreateMatchedOffer(c, req, resp, std::move(cb));
      },
      std::move(done));
}

absl::StatusOr<applicant::v1::ListApplicationsResponse>
ApplicantClient::ListApplicationsSync(
    const applicant::v1::ListApplicationsRequest& request) {
  return SyncUnary<applicant::v1::ListApplicationsResponse>(
      request, timeout_, [this](auto* c, auto& r, auto* out) {
        return stub_->ListApplications(c, r, out);
      });
}

absl::StatusOr<applicant::v1::Application>
ApplicantClient::OfferApplicationSync(
    const applicant::v1::OfferApplicationRequest& request) {
  return SyncUnary<applicant::v1::Application>(
      request, timeout_, [this](auto* c, auto& r, auto* out) {
        return stub_->OfferApplication(c, r, out);
      });
}

}  // namespace clerkship::matching
