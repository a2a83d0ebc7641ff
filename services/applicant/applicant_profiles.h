#pragma once

// Applicant profiles, the document vault, eligibility checks and the experience record:
// validation, who may do what, and the work, without gRPC server or Redis code. Each
// method answers through `done` exactly once.

#include "clerkship/applicant/v1/applicant.pb.h"
#include "common/auth/identity.h"
#include "common/util/clock.h"
#include "services/applicant/applicant_store.h"
#include "services/applicant/catalog_client.h"

namespace clerkship::applicant {

class ApplicantProfiles {
 public:
  // Most documents one vault holds (AddDocument: RESOURCE_EXHAUSTED beyond).
  static constexpr int kMaxDocuments = 200;

  ApplicantProfiles(ApplicantStore* store, CatalogClient* catalog, Clock* clock)
      : store_(store), catalog_(catalog), clock_(clock) {}

  void CreateApplicant(const auth::Identity& who, const v1::CreateApplicantRequest& request,
                       Done<v1::Applicant> done);
  void GetApplicant(const auth::Identity& who, const v1::GetApplicantRequest& request,
                    Done<v1::Applicant> done);
  void UpdateApplicant(const auth::Identity& who, const v1::UpdateApplicantRequest& request,
                       Done<v1::Applicant> done);
  void AddDocument(const auth::Identity& who, const v1::AddDocumentRequest& request,
                   Done<v1::Document> done);
  void ListDocuments(const auth::Identity& who, const v1::ListDocumentsRequest& request,
                     Done<v1::ListDocumentsResponse> done);
  void VerifyDocument(const auth::Identity& who, const v1::VerifyDocumentRequest& request,
                      Done<v1::Document> done);
  void CheckEligibility(const auth::Identity& who, const v1::CheckEligibilityRequest& request,
                        Done<v1::CheckEligibilityResponse> done);
  void GetExperienceRecord(const auth::Identity& who, const v1::GetExperienceRecordRequest& request,
                           Done<v1::ExperienceRecord> done);

 private:
  void UpdateAttempt(std::shared_ptr<const v1::UpdateApplicantRequest> request,
                     std::vector<std::string> paths, int attempt, Done<v1::Applicant> done);
  void VerifyAttempt(const auth::Identity& who,
                     std::shared_ptr<const v1::VerifyDocumentRequest> request,
                     std::string applicant_id, std::string document_id, std::string time_zone,
                     int attempt, Done<v1::Document> done);

  ApplicantStore* store_;
  CatalogClient* catalog_;
  Clock* clock_;
};

}  // namespace clerkship::applicant
