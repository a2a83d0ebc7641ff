#pragma once

// The applicant service's data in Redis. Keys (all under the service's own prefix "app:"):
//
//   app:applicant:{aid}              hash: record (serialized Applicant), etag, email (digest)
//   app:email:{digest}               applicant id owning the e-mail address (SHA-256 of the
//                                    lower-cased address, so no address appears in a key)
//   app:applicant-sites:{aid}        set of sites the applicant applied to (coordinator reads)
//   app:doc:{aid}:{did}              hash: record (serialized Document), etag
//   app:docs:{aid}                   zset of document ids by creation time (ms)
//   app:application:{id}             hash: record (serialized Application), etag, state,
//                                    applicant, session, rotation, site, site_tz
//   app:live:{aid}                   hash: session name → id of the live application to it
//   app:idx:all                      zset of application ids by creation time (ms); also
//   app:idx:applicant:{aid}          ... per applicant,
//   app:idx:session:{session name}   ... per session,
//   app:idx:rotation:{rotation name} ... per rotation,
//   app:idx:site:{site name}         ... per site
//   app:waitlist:{session name}      list of WAITLISTED application ids in waitlist order
//   app:offers:expiry                zset: OFFERED application id → offer expiry (ms); a claimed
//                                    entry is pushed one lease ahead
//   app:seats:release                zset: application id → when to (re)try releasing its
//                                    seat in the catalog (outbox of seat releases)
//   app:experience:{aid}             hash: application id → serialized ExperienceEntry
//   app:idem:applicant:{principal}:{request_id}  applicant id (24 h)
//   app:idem:document:{aid}:{request_id}         document id (24 h)
//   app:idem:submit:{aid}:{request_id}           application id (24 h)
//   app:idem:matched:{request_id}                application id (30 days)
//   app:events                       stream of application.* and document.* events
//
// Every read-modify-write is one Lua script; state changes append their event in the same
// script.

#include "absl/time/time.h"
#include "common/redis/redis_client.h"
#include "services/applicant/applicant_store.h"

namespace clerkship::applicant {

class RedisApplicantStore : public ApplicantStore {
 public:
  explicit RedisApplicantStore(redis::Client* redis) : redis_(redis) {}

  // Writes that must survive a Redis failover wait (Redis WAIT) until `replicas` replicas
  // have them, and fail with UNAVAILABLE otherwise (the write stays on the master; the
  // client retries or reads it back). They are: every application creation (a
  // submission, or an offer from a published placement round), and every write that takes
  // an application into or out of ACCEPTED, which the catalog's seat confirmation (which
  // waits the same way) must not outlive. 0, the default, does not wait.
  void SetDurableWait(int replicas, absl::Duration timeout) {
    wait_replicas_ = replicas;
    wait_timeout_ = timeout;
  }

  void CreateApplicant(const v1::Applicant& applicant, const std::string& email_digest,
                       const std::string& idempotency_key, Done<v1::Applicant> done) override;
  void GetApplicant(const std::string& applicant_id, Done<v1::Applicant> done) override;
  void UpdateApplicant(const v1::Applicant& next, const std::string& expected_etag,
                       const std::string& email_digest, Done<v1::Applicant> done) override;
  void HasAppliedToSite(const std::string& applicant_id, const std::string& site,
                        Done<bool> done) override;

  void AddDocument(const std::string& applicant_id, const v1::Document& document,
                   const std::string& idempotency_key, int max_documents, const EventRecord& event,
                   Done<v1::Document> done) override;
  void ListDocuments(const std::string& applicant_id,
                     Done<std::vector<v1::Document>> done) override;
  void GetDocument(const std::string& applicant_id, const std::string& document_id,
                   Done<v1::Document> done) override;
  void UpdateDocument(const std::string& applicant_id, const v1::Document& next,
                      const std::string& expected_etag, const EventRecord& event,
                      Done<v1::Document> done) override;

  void CreateApplication(const NewApplication& application, Done<CreatedApplication> done) override;
  void FindApplicationByKey(const std::string& idempotency_key,
                            Done<std::optional<StoredApplication>> done) override;
  void GetApplication(const std::string& application_id, Done<StoredApplication> done) override;
  void FindLiveApplication(const std::string& applicant_id, const std::string& session,
                           Done<std::optional<StoredApplication>> done) override;
  void WriteApplication(const ApplicationWrite& write, Done<StoredApplication> done) override;
  void ListApplications(const ApplicationQuery& query, Done<ApplicationPage> done) override;

  void ListExperience(const std::string& applicant_id,
                      Done<std::vector<v1::ExperienceEntry>> done) override;
  void GetExperience(const std::string& applicant_id, const std::string& application_id,
                     Done<std::optional<v1::ExperienceEntry>> done) override;

  void ClaimDueOfferExpiries(absl::Time now, absl::Duration lease, int limit,
                             Done<std::vector<std::string>> done) override;
  void ScheduleOfferExpiry(const std::string& application_id, absl::Time at,
                           Done<bool> done) override;
  void UnscheduleOfferExpiry(const std::string& application_id, Done<bool> done) override;
  void ClaimDueReleases(absl::Time now, absl::Duration lease, int limit,
                        Done<std::vector<std::string>> done) override;
  void FinishRelease(const std::string& application_id, Done<bool> done) override;

  // Key names, shared with tests that look at the data directly.
  static constexpr char kEventStream[] = "app:events";
  static constexpr char kOfferExpiries[] = "app:offers:expiry";
  static constexpr char kReleases[] = "app:seats:release";

 private:
  void LoadApplication(const std::string& application_id,
                       Done<std::optional<StoredApplication>> done);
  void Claim(const char* key, absl::Time now, absl::Duration lease, int limit,
             Done<std::vector<std::string>> done);

  redis::Client* redis_;
  int wait_replicas_ = 0;
  absl::Duration wait_timeout_ = absl::Milliseconds(250);
};

}  // namespace clerkship::applicant
