#pragma once

// gRPC adapter of the applicant service: reads who is calling, turns away anonymous
// callers, and hands the request to the domain classes, whose answer finishes the RPC.
// Handlers never block: they return a reactor that the domain's callback finishes.

#include "clerkship/applicant/v1/applicant.grpc.pb.h"
#include "services/applicant/applicant_profiles.h"
#include "services/applicant/application_lifecycle.h"

namespace clerkship::applicant {

class ApplicantServiceImpl final : public v1::ApplicantService::CallbackService {
 public:
  ApplicantServiceImpl(ApplicantProfiles* profiles, ApplicationLifecycle* lifecycle)
      : profiles_(profiles), lifecycle_(lifecycle) {}

  grpc::ServerUnaryReactor* CreateApplicant(grpc::CallbackServerContext* context,
                                            const v1::CreateApplicantRequest* request,
                                            v1::Applicant* response) override;
  grpc::ServerUnaryReactor* GetApplicant(grpc::CallbackServerContext* context,
                                         const v1::GetApplicantRequest* request,
                                         v1::Applicant* response) override;
  grpc::ServerUnaryReactor* UpdateApplicant(grpc::CallbackServerContext* context,
                                            const v1::UpdateApplicantRequest* request,
                                            v1::Applicant* response) override;
  grpc::ServerUnaryReactor* AddDocument(grpc::CallbackServerContext* context,
                                        const v1::AddDocumentRequest* request,
                                        v1::Document* response) override;
  grpc::ServerUnaryReactor* ListDocuments(grpc::CallbackServerContext* context,
                                          const v1::ListDocumentsRequest* request,
                                          v1::ListDocumentsResponse* response) override;
  grpc::ServerUnaryReactor* VerifyDocument(grpc::CallbackServerContext* context,
                                           const v1::VerifyDocumentRequest* request,
                                           v1::Document* response) override;
  grpc::ServerUnaryReactor* CheckEligibility(grpc::CallbackServerContext* context,
                                             const v1::CheckEligibilityRequest* request,
                                             v1::CheckEligibilityResponse* response) override;
  grpc::ServerUnaryReactor* SubmitApplication(grpc::CallbackServerContext* context,
                                              const v1::SubmitApplicationRequest* request,
                                              v1::Application* response) override;
  grpc::ServerUnaryReactor* GetApplication(grpc::CallbackServerContext* context,
                                           const v1::GetApplicationRequest* request,
                                           v1::Application* response) override;
  grpc::ServerUnaryReactor* ListApplications(grpc::CallbackServerContext* context,
                                             const v1::ListApplicationsRequest* request,
                                             v1::ListApplicationsResponse* response) override;
  grpc::ServerUnaryReactor* OfferApplication(grpc::CallbackServerContext* context,
                                             const v1::OfferApplicationRequest* request,
                                             v1::Application* response) override;
  grpc::ServerUnaryReactor* WaitlistApplication(grpc::CallbackServerContext* context,
                                                const v1::WaitlistApplicationRequest* request,
                                                v1::Application* response) override;
  grpc::ServerUnaryReactor* RejectApplication(grpc::CallbackServerContext* context,
                                              const v1::RejectApplicationRequest* request,
                                              v1::Application* response) override;
  grpc::ServerUnaryReactor* CompleteApplication(grpc::CallbackServerContext* context,
                                                const v1::CompleteApplicationRequest* request,
                                                v1::Application* response) override;
  grpc::ServerUnaryReactor* AcceptOffer(grpc::CallbackServerContext* context,
                                        const v1::AcceptOfferRequest* request,
                                        v1::Application* response) override;
  grpc::ServerUnaryReactor* DeclineOffer(grpc::CallbackServerContext* context,
                                         const v1::DeclineOfferRequest* request,
                                         v1::Application* response) override;
  grpc::ServerUnaryReactor* WithdrawApplication(grpc::CallbackServerContext* context,
                                                const v1::WithdrawApplicationRequest* request,
                                                v1::Application* response) override;
  grpc::ServerUnaryReactor* CancelApplication(grpc::CallbackServerContext* context,
                                              const v1::CancelApplicationRequest* request,
                                              v1::Application* response) override;
  grpc::ServerUnaryReactor* GetExperienceRecord(grpc::CallbackServerContext* context,
                                                const v1::GetExperienceRecordRequest* request,
                                                v1::ExperienceRecord* response) override;
  grpc::ServerUnaryReactor* CreateMatchedOffer(grpc::CallbackServerContext* context,
                                               const v1::CreateMatchedOfferRequest* request,
                                               v1::Application* response) override;

 private:
  ApplicantProfiles* profiles_;
  ApplicationLifecycle* lifecycle_;
};

}  // namespace clerkship::applicant
