#pragma once

// Persistence of applicants, documents, applications and experience records, behind an
// interface so the domain code does not depend on Redis (and so tests can wrap the real
// store to inject failures). Every method is asynchronous: `done` runs exactly once, on a
// thread of the store's choosing (the Redis event loop), and must not block.
//
// Writes that depend on what is stored are compare-and-set on the stored etag: the caller
// reads, computes the new record, and writes it with the etag it read. A write that finds
// another etag fails with ABORTED, reason CONCURRENT_UPDATE, and the caller re-reads and
// tries again. Each write and the event describing it are one atomic step.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clerkship/applicant/v1/applicant.pb.h"

namespace clerkship::applicant {

template <typename T>
using Done = std::function<void(absl::StatusOr<T>)>;

// ErrorInfo reason of a lost compare-and-set.
inline constexpr char kConcurrentUpdate[] = "CONCURRENT_UPDATE";

// An event to append to app:events together with a write.
struct EventRecord {
  std::string type;        // Event.type, e.g. "application.offered"
  std::string serialized;  // the clerkship.events.v1.Event
};

// An application as stored: the API resource plus what the service keeps beside it.
struct StoredApplication {
  v1::Application application;  // waitlist_position filled in at read time
  std::string site_time_zone;   // the site's IANA zone, copied at creation (for events)
};

struct NewApplication {
  StoredApplication stored;  // complete, etag included
  // Idempotency: a second creation with this key returns the application created first.
  std::string idempotency_key;  // empty = none
  absl::Duration idempotency_ttl = absl::Hours(24);
  // Created directly in OFFERED: the offer's expiry, for the expiry schedule.
  std::optional<absl::Time> offer_expire_time;
  EventRecord event;
};

struct CreatedApplication {
  bool created = false;  // false: the idempotency key (or the id) existed already
  StoredApplication stored;
};

// A change of one application, written only if the stored etag is still `expected_etag`.
struct ApplicationWrite {
  StoredApplication next;  // the new record, etag included
  std::string expected_etag;
  bool leaves_live = false;  // no longer blocks another application to the session
  enum class WaitlistOp { kNone, kRemove, kInsert };
  WaitlistOp waitlist = WaitlistOp::kNone;
  int waitlist_position = 0;  // kInsert: 1-based place, 0 or past the end = at the end
  enum class OfferScheduleOp { kNone, kRemove, kSet };
  OfferScheduleOp offer_schedule = OfferScheduleOp::kNone;
  absl::Time offer_expire_time;  // kSet
  // Enqueue a seat release (the outbox the OfferExpiryScheduler retries) due at this time.
  std::optional<absl::Time> release_due;
  std::optional<v1::ExperienceEntry> experience;  // store/replace the experience entry
  std::string idempotency_key;                    // also remember the application under this key
  absl::Duration idempotency_ttl = absl::Hours(24);
  std::optional<EventRecord> event;  // the waitlist position is added to it when inserting
};

struct ApplicationQuery {
  std::string applicant;  // names; empty = any
  std::string session;
  std::string rotation;
  std::string site;
  std::string state;  // State value name; empty = any
  enum class Order { kNewestFirst, kOldestFirst, kWaitlist };
  Order order = Order::kNewestFirst;
  std::string after;  // position from the previous page; empty = from the start
  int limit = 20;
};

struct ApplicationPage {
  std::vector<StoredApplication> applications;
  std::string next;  // position to continue after; empty = no more
};

class ApplicantStore {
 public:
  virtual ~ApplicantStore() = default;

  // Applicants. `email_digest` identifies the e-mail address (unique among applicants)
  // without storing it in a key.
  virtual void CreateApplicant(const v1::Applicant& applicant, const std::string& email_digest,
                               const std::string& idempotency_key, Done<v1::Applicant> done) = 0;
  virtual void GetApplicant(const std::string& applicant_id, Done<v1::Applicant> done) = 0;
  virtual void UpdateApplicant(const v1::Applicant& next, const std::string& expected_etag,
                               const std::string& email_digest, Done<v1::Applicant> done) = 0;
  // Whether the applicant ever applied to a rotation of `site` ("sites/{id}").
  virtual void HasAppliedToSite(const std::string& applicant_id, const std::string& site,
                                Done<bool> done) = 0;

  // Documents. RESOURCE_EXHAUSTED when the vault already holds `max_documents`.
  virtual void AddDocument(const std::string& applicant_id, const v1::Document& document,
                           const std::string& idempotency_key, int max_documents,
                           const EventRecord& event, Done<v1::Document> done) = 0;
  // Every document, newest first.
  virtual void ListDocuments(const std::string& applicant_id,
                             Done<std::vector<v1::Document>> done) = 0;
  virtual void GetDocument(const std::string& applicant_id, const std::string& document_id,
                           Done<v1::Document> done) = 0;
  virtual void UpdateDocument(const std::string& applicant_id, const v1::Document& next,
                              const std::string& expected_etag, const EventRecord& event,
                              Done<v1::Document> done) = 0;

  // Applications. ALREADY_EXISTS (DUPLICATE_APPLICATION) when the applicant has a live
  // application to the session.
  virtual void CreateApplication(const NewApplication& application,
                                 Done<CreatedApplication> done) = 0;
  virtual void FindApplicationByKey(const std::string& idempotency_key,
                                    Done<std::optional<StoredApplication>> done) = 0;
  virtual void GetApplication(const std::string& application_id, Done<StoredApplication> done) = 0;
  virtual void FindLiveApplication(const std::string& applicant_id, const std::string& session,
                                   Done<std::optional<StoredApplication>> done) = 0;
  virtual void WriteApplication(const ApplicationWrite& write, Done<StoredApplication> done) = 0;
  virtual void ListApplications(const ApplicationQuery& query, Done<ApplicationPage> done) = 0;

  // Experience entries, keyed by application id.
  virtual void ListExperience(const std::string& applicant_id,
                              Done<std::vector<v1::ExperienceEntry>> done) = 0;
  virtual void GetExperience(const std::string& applicant_id, const std::string& application_id,
                             Done<std::optional<v1::ExperienceEntry>> done) = 0;

  // Schedules. Claiming moves each due entry `lease` into the future, so that exactly one
  // replica works on it at a time and another takes it over if that one dies.
  virtual void ClaimDueOfferExpiries(absl::Time now, absl::Duration lease, int limit,
                                     Done<std::vector<std::string>> done) = 0;
  virtual void ScheduleOfferExpiry(const std::string& application_id, absl::Time at,
                                   Done<bool> done) = 0;
  virtual void UnscheduleOfferExpiry(const std::string& application_id, Done<bool> done) = 0;
  virtual void ClaimDueReleases(absl::Time now, absl::Duration lease, int limit,
                                Done<std::vector<std::string>> done) = 0;
  virtual void FinishRelease(const std::string& application_id, Done<bool> done) = 0;
};

// Passes every call to another store; decorators override what they change.
class ForwardingApplicantStore : public ApplicantStore {
 public:
  explicit ForwardingApplicantStore(ApplicantStore* inner) : inner_(inner) {}

  void CreateApplicant(const v1::Applicant& a, const std::string& email_digest,
                       const std::string& key, Done<v1::Applicant> done) override {
    inner_->CreateApplicant(a, email_digest, key, std::move(done));
  }
  void GetApplicant(const std::string& id, Done<v1::Applicant> done) override {
    inner_->GetApplicant(id, std::move(done));
  }
  void UpdateApplicant(const v1::Applicant& next, const std::string& etag,
                       const std::string& email_digest, Done<v1::Applicant> done) override {
    inner_->UpdateApplicant(next, etag, email_digest, std::move(done));
  }
  void HasAppliedToSite(const std::string& id, const std::string& site, Done<bool> done) override {
    inner_->HasAppliedToSite(id, site, std::move(done));
  }
  void AddDocument(const std::string& id, const v1::Document& d, const std::string& key, int max,
                   const EventRecord& e, Done<v1::Document> done) override {
    inner_->AddDocument(id, d, key, max, e, std::move(done));
  }
  void ListDocuments(const std::string& id, Done<std::vector<v1::Document>> done) override {
    inner_->ListDocuments(id, std::move(done));
  }
  void GetDocument(const std::string& id, const std::string& doc,
                   Done<v1::Document> done) override {
    inner_->GetDocument(id, doc, std::move(done));
  }
  void UpdateDocument(const std::string& id, const v1::Document& next, const std::string& etag,
                      const EventRecord& e, Done<v1::Document> done) override {
    inner_->UpdateDocument(id, next, etag, e, std::move(done));
  }
  void CreateApplication(const NewApplication& a, Done<CreatedApplication> done) override {
    inner_->CreateApplication(a, std::move(done));
  }
  void FindApplicationByKey(const std::string& key,
                            Done<std::optional<StoredApplication>> done) override {
    inner_->FindApplicationByKey(key, std::move(done));
  }
  void GetApplication(const std::string& id, Done<StoredApplication> done) override {
    inner_->GetApplication(id, std::move(done));
  }
  void FindLiveApplication(const std::string& id, const std::string& session,
                           Done<std::optional<StoredApplication>> done) override {
    inner_->FindLiveApplication(id, session, std::move(done));
  }
  void WriteApplication(const ApplicationWrite& w, Done<StoredApplication> done) override {
    inner_->WriteApplication(w, std::move(done));
  }
  void ListApplications(const ApplicationQuery& q, Done<ApplicationPage> done) override {
    inner_->ListApplications(q, std::move(done));
  }
  void ListExperience(const std::string& id, Done<std::vector<v1::ExperienceEntry>> done) override {
    inner_->ListExperience(id, std::move(done));
  }
  void GetExperience(const std::string& id, const std::string& app,
                     Done<std::optional<v1::ExperienceEntry>> done) override {
    inner_->GetExperience(id, app, std::move(done));
  }
  void ClaimDueOfferExpiries(absl::Time now, absl::Duration lease, int limit,
                             Done<std::vector<std::string>> done) override {
    inner_->ClaimDueOfferExpiries(now, lease, limit, std::move(done));
  }
  void ScheduleOfferExpiry(const std::string& id, absl::Time at, Done<bool> done) override {
    inner_->ScheduleOfferExpiry(id, at, std::move(done));
  }
  void UnscheduleOfferExpiry(const std::string& id, Done<bool> done) override {
    inner_->UnscheduleOfferExpiry(id, std::move(done));
  }
  void ClaimDueReleases(absl::Time now, absl::Duration lease, int limit,
                        Done<std::vector<std::string>> done) override {
    inner_->ClaimDueReleases(now, lease, limit, std::move(done));
  }
  void FinishRelease(const std::string& id, Done<bool> done) override {
    inner_->FinishRelease(id, std::move(done));
  }

 protected:
  ApplicantStore* inner_;
};

}  // namespace clerkship::applicant
