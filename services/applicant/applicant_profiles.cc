#include "services/applicant/applicant_profiles.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/eligibility/eligibility.h"
#include "common/events/events.h"
#include "common/status/validation.h"
#include "common/util/ids.h"
#include "common/util/page_token.h"
#include "services/applicant/applicant_validation.h"
#include "services/applicant/domain_support.h"

namespace clerkship::applicant {
namespace {

namespace type = clerkship::type::v1;
using auth::Identity;

constexpr int kMaxUpdateAttempts = 5;

int CurrentYear(Clock* clock) {
  return static_cast<int>(absl::ToCivilYear(clock->Now(), absl::UTCTimeZone()).year());
}

// Self (an applicant acting on their own record) or a privileged caller.
bool IsSelfOrPrivileged(const Identity& who, const std::string& applicant_name) {
  return who.is_privileged() || who.is_applicant(applicant_name);
}

// Output-only: a document is expired once its expiry date lies before today in the
// applicant's time zone.
void MarkExpired(v1::Document* d, absl::CivilDay today) {
  absl::CivilDay expiry;
  d->set_expired(!d->expiry_date().empty() && eligibility::ParseDay(d->expiry_date(), &expiry) &&
                 expiry < today);
}

void StampDocumentEtag(v1::Document* d) {
  // `expired` is computed at read time and must not change the version.
  bool expired = d->expired();
  d->set_expired(false);
  StampEtag(d);
  d->set_expired(expired);
}

EventRecord DocumentEvent(const std::string& type, const std::string& actor, absl::Time now,
                          const std::string& applicant_name, const v1::Document& d) {
  events::v1::Event e = events::NewEvent(kEventSource, type, d.name(), actor);
  *e.mutable_time() = ToProtoTime(now);
  events::v1::DocumentChange* change = nullptr;
  if (type == "document.added") change = e.mutable_document_added();
  if (type == "document.verified") change = e.mutable_document_verified();
  if (type == "document.rejected") change = e.mutable_document_rejected();
  change->set_applicant(applicant_name);
  change->set_document(d.name());
  change->set_kind(d.kind());
  change->set_state(v1::Document::State_Name(d.state()));
  change->set_expiry_date(d.expiry_date());
  change->set_display_name(d.display_name());
  change->set_review_note(d.review_note());
  return EventRecord{type, e.SerializeAsString()};
}

// "applicants/{a}/documents/{d}" → {a, d}; false when malformed.
bool ParseDocumentName(absl::string_view name, std::string* applicant_id,
                       std::string* document_id) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "applicants" || parts[2] != "documents" ||
      !IsValidResourceId(parts[1]) || !IsValidResourceId(parts[3])) {
    return false;
  }
  *applicant_id = std::string(parts[1]);
  *document_id = std::string(parts[3]);
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Profiles

void ApplicantProfiles::CreateApplicant(const Identity& who,
                                        const v1::CreateApplicantRequest& request,
                                        Done<v1::Applicant> done) {
  std::string id = request.applicant_id();
  if (who.role == auth::Role::kApplicant) {
    // An applicant creates exactly their own profile.
    std::string own = ResourceId(who.principal, "applicants");
    if (own.empty() || (!id.empty() && id != own)) {
      return done(auth::PermissionDenied("applicants create only their own profile"));
    }
    id = own;
  } else if (!who.is_privileged()) {
    return done(auth::PermissionDenied("only applicants and admins create applicant profiles"));
  }

  v1::Applicant applicant = request.applicant();
  NormalizeApplicant(&applicant);
  Validator v;
  if (!request.has_applicant()) {
    v.Add("applicant", "is required");
  } else {
    ValidateApplicantFields(applicant, CurrentYear(clock_), "applicant.", &v);
  }
  if (!id.empty()) {
    v.Check(IsValidResourceId(id), "applicant_id",
            "must be 1-63 characters of lowercase letters, digits and hyphens");
  }
  if (!request.request_id().empty()) {
    v.Check(IsValidRequestId(request.request_id()), "request_id",
            "must be 1-64 characters of letters, digits, '-' and '_'");
  }
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);

  if (id.empty()) id = NewResourceId();
  applicant.set_name(absl::StrCat("applicants/", id));
  if (applicant.time_zone().empty()) applicant.set_time_zone("UTC");
  *applicant.mutable_create_time() = ToProtoTime(clock_->Now());
  *applicant.mutable_update_time() = applicant.create_time();
  StampEtag(&applicant);
  std::string key =
      request.request_id().empty()
          ? ""
          : absl::StrCat("app:idem:applicant:", who.principal, ":", request.request_id());
  store_->CreateApplicant(applicant, EmailDigest(applicant.email()), key, std::move(done));
}

void ApplicantProfiles::GetApplicant(const Identity& who, const v1::GetApplicantRequest& request,
                                     Done<v1::Applicant> done) {
  Validator v;
  if (!v.RequireName("name", request.name(), "applicants")) return done(v.Finish());
  std::string id = ResourceId(request.name(), "applicants");
  if (IsSelfOrPrivileged(who, request.name())) return store_->GetApplicant(id, std::move(done));
  if (who.role != auth::Role::kCoordinator || who.site.empty()) {
    return done(auth::PermissionDenied("applicants read only their own profile"));
  }
  // A coordinator reads the profiles of applicants to their site only.
  store_->HasAppliedToSite(
      id, who.site, [this, id, done = std::move(done)](absl::StatusOr<bool> applied) {
        if (!applied.ok()) return done(applied.status());
        if (!*applied) {
          return done(auth::PermissionDenied("the applicant has not applied to your site"));
        }
        store_->GetApplicant(id, std::move(done));
      });
}

void ApplicantProfiles::UpdateApplicant(const Identity& who,
                                        const v1::UpdateApplicantRequest& request,
                                        Done<v1::Applicant> done) {
  Validator v;
  if (!request.has_applicant()) {
    v.Add("applicant", "is required");
    return done(v.Finish());
  }
  if (!v.RequireName("applicant.name", request.applicant().name(), "applicants")) {
    return done(v.Finish());
  }
  if (!IsSelfOrPrivileged(who, request.applicant().name())) {
    return done(auth::PermissionDenied("applicants change only their own profile"));
  }
  absl::StatusOr<std::vector<std::string>> paths = ResolveUpdatePaths(request);
  if (!paths.ok()) return done(paths.status());
  UpdateAttempt(std::make_shared<const v1::UpdateApplicantRequest>(request), std::move(*paths), 0,
                std::move(done));
}

void ApplicantProfiles::UpdateAttempt(std::shared_ptr<const v1::UpdateApplicantRequest> request,
                                      std::vector<std::string> paths, int attempt,
                                      Done<v1::Applicant> done) {
  std::string id = ResourceId(request->applicant().name(), "applicants");
  store_->GetApplicant(id, [this, request, paths, attempt,
                            done = std::move(done)](absl::StatusOr<v1::Applicant> stored) mutable {
    if (!stored.ok()) return done(stored.status());
    if (!request->applicant().etag().empty() && request->applicant().etag() != stored->etag()) {
      return done(StaleEtagError("applicant"));
    }
    v1::Applicant changes = request->applicant();
    NormalizeApplicant(&changes);
    v1::Applicant next = *stored;
    ApplyUpdatePaths(changes, paths, &next);
    if (next.time_zone().empty()) next.set_time_zone("UTC");
    Validator v;
    ValidateApplicantFields(next, CurrentYear(clock_), "applicant.", &v);
    if (absl::Status s = v.Finish(); !s.ok()) return done(s);
    if (next.SerializeAsString() == stored->SerializeAsString()) return done(std::move(*stored));
    *next.mutable_update_time() = ToProtoTime(clock_->Now());
    StampEtag(&next);
    std::string expected = stored->etag();
    store_->UpdateApplicant(
        next, expected, EmailDigest(next.email()),
        [this, request, paths, attempt,
         done = std::move(done)](absl::StatusOr<v1::Applicant> updated) mutable {
          if (IsConcurrentUpdate(updated.status()) && attempt + 1 < kMaxUpdateAttempts) {
            return UpdateAttempt(request, paths, attempt + 1, std::move(done));
          }
          done(std::move(updated));
        });
  });
}

// ---------------------------------------------------------------------------------------
// Document vault

void ApplicantProfiles::AddDocument(const Identity& who, const v1::AddDocumentRequest& request,
                                    Done<v1::Document> done) {
  Validator v;
  if (!v.RequireName("parent", request.parent(), "applicants")) return done(v.Finish());
  if (!IsSelfOrPrivileged(who, request.parent())) {
    return done(auth::PermissionDenied("applicants add documents only to their own vault"));
  }
  v1::Document document = request.document();
  NormalizeDocument(&document);
  if (!request.has_document()) {
    v.Add("document", "is required");
  } else {
    ValidateDocumentFields(document, "document.", &v);
  }
  if (!request.request_id().empty()) {
    v.Check(IsValidRequestId(request.request_id()), "request_id",
            "must be 1-64 characters of letters, digits, '-' and '_'");
  }
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);

  std::string applicant_name = request.parent();
  std::string applicant_id = ResourceId(applicant_name, "applicants");
  std::string key = request.request_id().empty() ? ""
                                                 : absl::StrCat("app:idem:document:", applicant_id,
                                                                ":", request.request_id());
  std::string actor = who.principal;
  store_->GetApplicant(
      applicant_id, [this, applicant_name, applicant_id, key, actor, document,
                     done = std::move(done)](absl::StatusOr<v1::Applicant> applicant) mutable {
        if (!applicant.ok()) return done(applicant.status());
        absl::Time now = clock_->Now();
        absl::CivilDay today = TodayIn(now, applicant->time_zone());
        absl::CivilDay issued;
        if (!document.issue_date().empty() &&
            eligibility::ParseDay(document.issue_date(), &issued) && issued > today) {
          return done(InvalidFieldError("document.issue_date", "must not be in the future"));
        }
        document.set_name(absl::StrCat(applicant_name, "/documents/", NewResourceId()));
        document.set_state(v1::Document::PENDING);
        document.clear_review_note();
        document.clear_reviewer();
        document.clear_verify_time();
        document.set_expired(false);
        *document.mutable_create_time() = ToProtoTime(now);
        StampDocumentEtag(&document);
        EventRecord event = DocumentEvent("document.added", actor, now, applicant_name, document);
        store_->AddDocument(applicant_id, document, key, kMaxDocuments, event,
                            [today, done = std::move(done)](absl::StatusOr<v1::Document> added) {
                              if (added.ok()) MarkExpired(&*added, today);
                              done(std::move(added));
                            });
      });
}

void ApplicantProfiles::ListDocuments(const Identity& who, const v1::ListDocumentsRequest& request,
                                      Done<v1::ListDocumentsResponse> done) {
  Validator v;
  if (!v.RequireName("parent", request.parent(), "applicants")) return done(v.Finish());
  if (!IsSelfOrPrivileged(who, request.parent())) {
    return done(auth::PermissionDenied("applicants list only their own documents"));
  }
  v.Check(type::DocumentKind_IsValid(request.kind()), "kind", "must be a known document kind");
  absl::StatusOr<int> page_size = PageSize(request.page_size(), 50, 200);
  if (!page_size.ok()) return done(page_size.status());
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);
  uint64_t fingerprint = CallerFingerprint(
      absl::StrCat("documents|", request.parent(), "|", request.kind()), who.principal);
  std::string after;
  if (!request.page_token().empty()) {
    absl::StatusOr<PageCursor> cursor = DecodePageToken(request.page_token(), fingerprint);
    if (!cursor.ok()) return done(cursor.status());
    after = cursor->position;
  }
  std::string applicant_id = ResourceId(request.parent(), "applicants");
  type::DocumentKind kind = request.kind();
  int limit = *page_size;
  store_->GetApplicant(
      applicant_id, [this, applicant_id, kind, limit, after, fingerprint,
                     done = std::move(done)](absl::StatusOr<v1::Applicant> applicant) mutable {
        if (!applicant.ok()) return done(applicant.status());
        absl::CivilDay today = TodayIn(clock_->Now(), applicant->time_zone());
        store_->ListDocuments(
            applicant_id, [kind, limit, after, fingerprint, today,
                           done = std::move(done)](absl::StatusOr<std::vector<v1::Document>> all) {
              if (!all.ok()) return done(all.status());
              std::vector<v1::Document> matching;
              for (v1::Document& d : *all) {
                if (kind == type::DOCUMENT_KIND_UNSPECIFIED || d.kind() == kind) {
                  matching.push_back(std::move(d));
                }
              }
              size_t start = 0;
              if (!after.empty()) {
                auto it = std::find_if(matching.begin(), matching.end(),
                                       [&](const v1::Document& d) { return d.name() == after; });
                if (it == matching.end()) {
                  return done(InvalidFieldError("page_token", "is not a valid page token"));
                }
                start = (it - matching.begin()) + 1;
              }
              v1::ListDocumentsResponse response;
              size_t end = std::min(matching.size(), start + limit);
              for (size_t i = start; i < end; ++i) {
                MarkExpired(&matching[i], today);
                *response.add_documents() = std::move(matching[i]);
              }
              if (end < matching.size()) {
                response.set_next_page_token(
                    EncodePageToken({fingerprint, response.documents().rbegin()->name()}));
              }
              done(std::move(response));
            });
      });
}

void ApplicantProfiles::VerifyDocument(const Identity& who,
                                       const v1::VerifyDocumentRequest& request,
                                       Done<v1::Document> done) {
  std::string applicant_id, document_id;
  Validator v;
  if (!ParseDocumentName(request.name(), &applicant_id, &document_id)) {
    v.Add("name",
          "must be a resource name of the form applicants/{applicant}/documents/{document}");
    return done(v.Finish());
  }
  // A verdict on a document is an admin's judgement, not something a service makes up.
  if (!who.is_admin()) return done(auth::PermissionDenied("only admins verify documents"));
  v.Check(
      request.verdict() == v1::Document::VERIFIED || request.verdict() == v1::Document::REJECTED,
      "verdict", "must be VERIFIED or REJECTED");
  if (request.verdict() == v1::Document::REJECTED) {
    RequireChars(&v, "note", request.note(), 1, 1000);
  } else {
    RequireChars(&v, "note", request.note(), 0, 1000);
  }
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);
  auto shared = std::make_shared<const v1::VerifyDocumentRequest>(request);
  store_->GetApplicant(applicant_id,
                       [this, who, shared, applicant_id, document_id,
                        done = std::move(done)](absl::StatusOr<v1::Applicant> applicant) mutable {
                         if (!applicant.ok()) return done(applicant.status());
                         VerifyAttempt(who, shared, applicant_id, document_id,
                                       applicant->time_zone(), 0, std::move(done));
                       });
}

void ApplicantProfiles::VerifyAttempt(const Identity& who,
                                      std::shared_ptr<const v1::VerifyDocumentRequest> request,
                                      std::string applicant_id, std::string document_id,
                                      std::string time_zone, int attempt, Done<v1::Document> done) {
  store_->GetDocument(
      applicant_id, document_id,
      [this, who, request, applicant_id, document_id, time_zone, attempt,
       done = std::move(done)](absl::StatusOr<v1::Document> stored) mutable {
        if (!stored.ok()) return done(stored.status());
        if (!request->etag().empty() && request->etag() != stored->etag()) {
          return done(StaleEtagError("document"));
        }
        absl::Time now = clock_->Now();
        v1::Document next = *stored;
        next.set_state(request->verdict());
        next.set_review_note(std::string(absl::StripAsciiWhitespace(request->note())));
        next.set_reviewer(who.principal);
        *next.mutable_verify_time() = ToProtoTime(now);
        next.set_expired(false);
        StampDocumentEtag(&next);
        std::string type = request->verdict() == v1::Document::VERIFIED ? "document.verified"
                                                                        : "document.rejected";
        EventRecord event = DocumentEvent(type, who.principal, now,
                                          absl::StrCat("applicants/", applicant_id), next);
        absl::CivilDay today = TodayIn(now, time_zone);
        store_->UpdateDocument(
            applicant_id, next, stored->etag(), event,
            [this, who, request, applicant_id, document_id, time_zone, attempt, today,
             done = std::move(done)](absl::StatusOr<v1::Document> updated) mutable {
              if (IsConcurrentUpdate(updated.status()) && attempt + 1 < kMaxUpdateAttempts) {
                return VerifyAttempt(who, request, applicant_id, document_id, time_zone,
                                     attempt + 1, std::move(done));
              }
              if (updated.ok()) MarkExpired(&*updated, today);
              done(std::move(updated));
            });
      });
}

// ---------------------------------------------------------------------------------------
// Eligibility

void ApplicantProfiles::CheckEligibility(const Identity& who,
                                         const v1::CheckEligibilityRequest& request,
                                         Done<v1::CheckEligibilityResponse> done) {
  Validator v;
  v.RequireName("applicant", request.applicant(), "applicants");
  v.RequireName("rotation", request.rotation(), "rotations");
  if (!request.session().empty() && RequireSessionName(&v, "session", request.session())) {
    v.Check(RotationOfSession(request.session()) == request.rotation(), "session",
            "must be a session of the rotation");
  }
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);
  if (!IsSelfOrPrivileged(who, request.applicant())) {
    return done(auth::PermissionDenied("applicants check only their own eligibility"));
  }

  struct Gathered {
    v1::CheckEligibilityRequest request;
    v1::Applicant applicant;
    std::vector<v1::Document> documents;
    catalog::v1::Rotation rotation;
    std::optional<catalog::v1::Session> session;
  };
  auto g = std::make_shared<Gathered>();
  g->request = request;
  std::string applicant_id = ResourceId(request.applicant(), "applicants");

  // Compute once everything is in.
  auto decide = [this, g](Done<v1::CheckEligibilityResponse> done) {
    absl::CivilDay today = TodayIn(clock_->Now(), g->applicant.time_zone());
    const catalog::v1::Session* session = g->session ? &*g->session : nullptr;
    eligibility::EligibilityInput input;
    input.rotation = &g->rotation;
    input.session = session;
    input.applicant = &g->applicant;
    input.documents = &g->documents;
    input.today = today;
    v1::CheckEligibilityResponse response;
    response.set_applicant(g->request.applicant());
    response.set_rotation(g->request.rotation());
    for (const eligibility::Reason& r : eligibility::CheckEligibility(input)) {
      v1::EligibilityReason* out = response.add_reasons();
      out->set_code(r.code);
      out->set_message(r.message);
    }
    response.set_eligible(response.reasons().empty());
    for (const eligibility::DocumentIssue& issue : eligibility::CheckDocuments(
             g->rotation, g->documents, eligibility::DocumentsValidThrough(session, today),
             session != nullptr)) {
      v1::DocumentIssue* out = response.add_document_issues();
      out->set_kind(issue.kind);
      out->set_code(issue.code);
      out->set_message(issue.message);
    }
    done(std::move(response));
  };

  store_->GetApplicant(applicant_id, [this, g, applicant_id, decide, done = std::move(done)](
                                         absl::StatusOr<v1::Applicant> applicant) mutable {
    if (!applicant.ok()) return done(applicant.status());
    g->applicant = std::move(*applicant);
    store_->ListDocuments(
        applicant_id, [this, g, decide, done = std::move(done)](
                          absl::StatusOr<std::vector<v1::Document>> docs) mutable {
          if (!docs.ok()) return done(docs.status());
          g->documents = std::move(*docs);
          catalog_->GetRotation(
              g->request.rotation(), [this, g, decide, done = std::move(done)](
                                         absl::StatusOr<catalog::v1::Rotation> rotation) mutable {
                if (!rotation.ok()) return done(rotation.status());
                g->rotation = std::move(*rotation);
                if (g->request.session().empty()) return decide(std::move(done));
                catalog_->GetSession(g->request.session(),
                                     [g, decide, done = std::move(done)](
                                         absl::StatusOr<catalog::v1::Session> session) mutable {
                                       if (!session.ok()) return done(session.status());
                                       g->session = std::move(*session);
                                       decide(std::move(done));
                                     });
              });
        });
  });
}

// ---------------------------------------------------------------------------------------
// Experience record

void ApplicantProfiles::GetExperienceRecord(const Identity& who,
                                            const v1::GetExperienceRecordRequest& request,
                                            Done<v1::ExperienceRecord> done) {
  constexpr absl::string_view kSuffix = "/experience";
  std::string applicant_name;
  if (absl::EndsWith(request.name(), kSuffix)) {
    applicant_name = request.name().substr(0, request.name().size() - kSuffix.size());
  }
  std::string applicant_id = ResourceId(applicant_name, "applicants");
  if (applicant_id.empty()) {
    return done(InvalidFieldError("name", "must be of the form applicants/{applicant}/experience"));
  }
  if (!IsSelfOrPrivileged(who, applicant_name)) {
    return done(auth::PermissionDenied("applicants read only their own experience record"));
  }
  std::string name = request.name();
  store_->GetApplicant(applicant_id, [this, applicant_id, name, done = std::move(done)](
                                         absl::StatusOr<v1::Applicant> applicant) mutable {
    if (!applicant.ok()) return done(applicant.status());
    store_->ListExperience(
        applicant_id,
        [name, done = std::move(done)](absl::StatusOr<std::vector<v1::ExperienceEntry>> entries) {
          if (!entries.ok()) return done(entries.status());
          std::sort(entries->begin(), entries->end(),
                    [](const v1::ExperienceEntry& a, const v1::ExperienceEntry& b) {
                      if (a.end_date() != b.end_date()) return a.end_date() > b.end_date();
                      return a.application() < b.application();
                    });
          v1::ExperienceRecord record;
          record.set_name(name);
          for (v1::ExperienceEntry& e : *entries) {
            record.set_total_weeks(record.total_weeks() + e.weeks());
            if (e.hands_on()) {
              record.set_weeks_hands_on(record.weeks_hands_on() + e.weeks());
            } else {
              record.set_weeks_observational(record.weeks_observational() + e.weeks());
            }
            if (e.lor_status() == type::LOR_SUBMITTED) {
              record.set_us_letters(record.us_letters() + 1);
            } else if (e.lor_status() == type::LOR_COMMITTED ||
                       e.lor_status() == type::LOR_REQUESTED) {
              record.set_us_letters_pending(record.us_letters_pending() + 1);
            }
            *record.add_entries() = std::move(e);
          }
          done(std::move(record));
        });
  });
}

}  // namespace clerkship::applicant
