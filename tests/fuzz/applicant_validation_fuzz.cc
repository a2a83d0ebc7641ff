// libFuzzer entry point for the applicant service's request validation: the input is parsed
// as a CreateApplicantRequest (protobuf wire format, as a gRPC client would send it),
// normalized and validated the way ApplicantProfiles::CreateApplicant does; then as an
// UpdateApplicantRequest (mask resolved and applied over a valid stored profile), an
// AddDocumentRequest and a SubmitApplicationRequest. A rejection must be INVALID_ARGUMENT
// with at least one field violation. Nothing may crash, hang or leak.
//
// The service validates inline, before its store calls, from the building blocks in
// applicant_validation.h; the steps below follow applicant_profiles.cc and
// application_lifecycle.cc (Submit) and must be kept in step with them.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "clerkship/applicant/v1/applicant.pb.h"
#include "common/status/status.h"
#include "common/status/validation.h"
#include "common/util/ids.h"
#include "services/applicant/applicant_validation.h"
#include "tests/fuzz/fuzz_validation.h"

namespace {

namespace v1 = clerkship::applicant::v1;
namespace type = clerkship::type::v1;
using clerkship::Validator;

// A fixed "this year" keeps runs reproducible; the service takes it from its clock.
constexpr int kCurrentYear = 2026;

using clerkship::fuzz::TryRequest;

void CheckRequestId(const std::string& request_id, Validator* v) {
  if (!request_id.empty()) {
    v->Check(clerkship::IsValidRequestId(request_id), "request_id",
             "must be 1-64 characters of letters, digits, '-' and '_'");
  }
}

// The profile an update is applied to: one that passes validation, as stored profiles do.
const v1::Applicant& StoredApplicant() {
  static const v1::Applicant* stored = [] {
    auto* a = new v1::Applicant;
    a->set_name("applicants/fuzz");
    a->set_given_name("Asha");
    a->set_family_name("Rao");
    a->set_email("asha@example.com");
    a->set_training_stage(type::TrainingStage(1));
    a->set_medical_school("Grant Medical College");
    a->set_school_country("IN");
    a->set_graduation_year(2024);
    a->set_step1_status(type::Step1Status(1));
    a->set_visa_status(type::VisaStatus(1));
    a->set_time_zone("UTC");
    return a;
  }();
  return *stored;
}

absl::Status ValidateCreateApplicant(const v1::CreateApplicantRequest& request) {
  v1::Applicant applicant = request.applicant();
  clerkship::applicant::NormalizeApplicant(&applicant);
  Validator v;
  if (!request.has_applicant()) {
    v.Add("applicant", "is required");
  } else {
    clerkship::applicant::ValidateApplicantFields(applicant, kCurrentYear, "applicant.", &v);
  }
  if (!request.applicant_id().empty()) {
    v.Check(clerkship::IsValidResourceId(request.applicant_id()), "applicant_id",
            "must be 1-63 characters of lowercase letters, digits and hyphens");
  }
  CheckRequestId(request.request_id(), &v);
  return v.Finish();
}

absl::Status ValidateUpdateApplicant(const v1::UpdateApplicantRequest& request) {
  Validator v;
  if (!request.has_applicant()) {
    v.Add("applicant", "is required");
    return v.Finish();
  }
  if (!v.RequireName("applicant.name", request.applicant().name(), "applicants")) {
    return v.Finish();
  }
  absl::StatusOr<std::vector<std::string>> paths =
      clerkship::applicant::ResolveUpdatePaths(request);
  if (!paths.ok()) return paths.status();
  v1::Applicant changes = request.applicant();
  clerkship::applicant::NormalizeApplicant(&changes);
  v1::Applicant next = StoredApplicant();
  clerkship::applicant::ApplyUpdatePaths(changes, *paths, &next);
  if (next.time_zone().empty()) next.set_time_zone("UTC");
  clerkship::applicant::ValidateApplicantFields(next, kCurrentYear, "applicant.", &v);
  return v.Finish();
}

absl::Status ValidateAddDocument(const v1::AddDocumentRequest& request) {
  Validator v;
  if (!v.RequireName("parent", request.parent(), "applicants")) return v.Finish();
  v1::Document document = request.document();
  clerkship::applicant::NormalizeDocument(&document);
  if (!request.has_document()) {
    v.Add("document", "is required");
  } else {
    clerkship::applicant::ValidateDocumentFields(document, "document.", &v);
  }
  CheckRequestId(request.request_id(), &v);
  return v.Finish();
}

absl::Status ValidateSubmitApplication(const v1::SubmitApplicationRequest& request) {
  Validator v;
  v.RequireName("applicant", request.applicant(), "applicants");
  clerkship::applicant::RequireSessionName(&v, "session", request.session());
  clerkship::applicant::RequireChars(&v, "statement", request.statement(), 0, 5000);
  CheckRequestId(request.request_id(), &v);
  return v.Finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Invalid UTF-8 in a string field fails the parse, which protobuf also logs: not news here.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  TryRequest<v1::CreateApplicantRequest>(data, size, ValidateCreateApplicant);
  TryRequest<v1::UpdateApplicantRequest>(data, size, ValidateUpdateApplicant);
  TryRequest<v1::AddDocumentRequest>(data, size, ValidateAddDocument);
  TryRequest<v1::SubmitApplicationRequest>(data, size, ValidateSubmitApplication);
  return 0;
}
