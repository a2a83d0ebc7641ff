#include "services/applicant/applicant_service.h"

#include "common/auth/identity.h"
#include "common/server/reactor.h"

namespace clerkship::applicant {
namespace {

// Every RPC of this service needs an identity; the rest is the domain's.
template <typename Request, typename Response, typename Handler>
grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context, const Request* request,
                                Response* response, Handler handler) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok()) return FinishNow(context, s);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  handler(who, *request, Respond(reactor, response));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* ApplicantServiceImpl::CreateApplicant(
    grpc::CallbackServerContext* context, const v1::CreateApplicantRequest* request,
    v1::Applicant* response) {
  return Serve(
      context, request, response,
      [this](const auth::Identity& who, const v1::CreateApplicantRequest& r,
             Done<v1::Applicant> done) { profiles_->CreateApplicant(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::GetApplicant(grpc::CallbackServerContext* context,
                                                             const v1::GetApplicantRequest* request,
                                                             v1::Applicant* response) {
  return Serve(
      context, request, response,
      [this](const auth::Identity& who, const v1::GetApplicantRequest& r,
             Done<v1::Applicant> done) { profiles_->GetApplicant(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::UpdateApplicant(
    grpc::CallbackServerContext* context, const v1::UpdateApplicantRequest* request,
    v1::Applicant* response) {
  return Serve(
      context, request, response,
      [this](const auth::Identity& who, const v1::UpdateApplicantRequest& r,
             Done<v1::Applicant> done) { profiles_->UpdateApplicant(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::AddDocument(grpc::CallbackServerContext* context,
                                                            const v1::AddDocumentRequest* request,
                                                            v1::Document* response) {
  return Serve(
      context, request, response,
      [this](const auth::Identity& who, const v1::AddDocumentRequest& r, Done<v1::Document> done) {
        profiles_->AddDocument(who, r, std::move(done));
      });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::ListDocuments(
    grpc::CallbackServerContext* context, const v1::ListDocumentsRequest* request,
    v1::ListDocumentsResponse* response) {
  return Serve(context, request, response,
               [this](const auth::Identity& who, const v1::ListDocumentsRequest& r,
                      Done<v1::ListDocumentsResponse> done) {
                 profiles_->ListDocuments(who, r, std::move(done));
               });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::VerifyDocument(
    grpc::CallbackServerContext* context, const v1::VerifyDocumentRequest* request,
    v1::Document* response) {
  return Serve(
      context, request, response,
      [this](const auth::Identity& who, const v1::VerifyDocumentRequest& r,
             Done<v1::Document> done) { profiles_->VerifyDocument(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::CheckEligibility(
    grpc::CallbackServerContext* context, const v1::CheckEligibilityRequest* request,
    v1::CheckEligibilityResponse* response) {
  return Serve(context, request, response,
               [this](const auth::Identity& who, const v1::CheckEligibilityRequest& r,
                      Done<v1::CheckEligibilityResponse> done) {
                 profiles_->CheckEligibility(who, r, std::move(done));
               });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::SubmitApplication(
    grpc::CallbackServerContext* context, const v1::SubmitApplicationRequest* request,
    v1::Application* response) {
  return Serve(context, request, response,
               [this](const auth::Identity& who, const v1::SubmitApplicationRequest& r,
                      Done<v1::Application> done) { lifecycle_->Submit(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::GetApplication(
    grpc::CallbackServerContext* context, const v1::GetApplicationRequest* request,
    v1::Application* response) {
  return Serve(context, request, response,
               [this](const auth::Identity& who, const v1::GetApplicationRequest& r,
                      Done<v1::Application> done) { lifecycle_->Get(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::ListApplications(
    grpc::CallbackServerContext* context, const v1::ListApplicationsRequest* request,
    v1::ListApplicationsResponse* response) {
  return Serve(context, request, response,
               [this](const auth::Identity& who, const v1::ListApplicationsRequest& r,
                      Done<v1::ListApplicationsResponse> done) {
                 lifecycle_->List(who, r, std::move(done));
               });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::OfferApplication(
    grpc::CallbackServerContext* context, const v1::OfferApplicationRequest* request,
    v1::Application* response) {
  return Serve(context, request, response,
               [this](const auth::Identity& who, const v1::OfferApplicationRequest& r,
                      Done<v1::Application> done) { lifecycle_->Offer(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::WaitlistApplication(
    grpc::CallbackServerContext* context, const v1::WaitlistApplicationRequest* request,
    v1::Application* response) {
  return Serve(
      context, request, response,
      [this](const auth::Identity& who, const v1::WaitlistApplicationRequest& r,
             Done<v1::Application> done) { lifecycle_->Waitlist(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::RejectApplication(
    grpc::CallbackServerContext* context, const v1::RejectApplicationRequest* request,
    v1::Application* response) {
  return Serve(context, request, response,
               [this](const auth::Identity& who, const v1::RejectApplicationRequest& r,
                      Done<v1::Application> done) { lifecycle_->Reject(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::CompleteApplication(
    grpc::CallbackServerContext* context, const v1::CompleteApplicationRequest* request,
    v1::Application* response) {
  return Serve(
      context, request, response,
      [this](const auth::Identity& who, const v1::CompleteApplicationRequest& r,
             Done<v1::Application> done) { lifecycle_->Complete(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::AcceptOffer(grpc::CallbackServerContext* context,
                                                            const v1::AcceptOfferRequest* request,
                                                            v1::Application* response) {
  return Serve(context, request, response,
               [this](const auth::Identity& who, const v1::AcceptOfferRequest& r,
                      Done<v1::Application> done) { lifecycle_->Accept(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::DeclineOffer(grpc::CallbackServerContext* context,
                                                             const v1::DeclineOfferRequest* request,
                                                             v1::Application* response) {
  return Serve(
      context, request, response,
      [this](const auth::Identity& who, const v1::DeclineOfferRequest& r,
             Done<v1::Application> done) { lifecycle_->Decline(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::WithdrawApplication(
    grpc::CallbackServerContext* context, const v1::WithdrawApplicationRequest* request,
    v1::Application* response) {
  return Serve(
      context, request, response,
      [this](const auth::Identity& who, const v1::WithdrawApplicationRequest& r,
             Done<v1::Application> done) { lifecycle_->Withdraw(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::CancelApplication(
    grpc::CallbackServerContext* context, const v1::CancelApplicationRequest* request,
    v1::Application* response) {
  return Serve(context, request, response,
               [this](const auth::Identity& who, const v1::CancelApplicationRequest& r,
                      Done<v1::Application> done) { lifecycle_->Cancel(who, r, std::move(done)); });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::GetExperienceRecord(
    grpc::CallbackServerContext* context, const v1::GetExperienceRecordRequest* request,
    v1::ExperienceRecord* response) {
  return Serve(context, request, response,
               [this](const auth::Identity& who, const v1::GetExperienceRecordRequest& r,
                      Done<v1::ExperienceRecord> done) {
                 profiles_->GetExperienceRecord(who, r, std::move(done));
               });
}

grpc::ServerUnaryReactor* ApplicantServiceImpl::CreateMatchedOffer(
    grpc::CallbackServerContext* context, const v1::CreateMatchedOfferRequest* request,
    v1::Application* response) {
  return Serve(context, request, response,
               [this](const auth::Identity& who, const v1::CreateMatchedOfferRequest& r,
                      Done<v1::Application> done) {
                 lifecycle_->CreateMatchedOffer(who, r, std::move(done));
               });
}

}  // namespace clerkship::applicant
