#include "services/applicant/application_lifecycle.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/eligibility/eligibility.h"
#include "common/events/events.h"
#include "common/logging/log.h"
#include "common/status/status.h"
#include "common/status/validation.h"
#include "common/util/ids.h"
#include "common/util/page_token.h"
#include "services/applicant/applicant_validation.h"
#include "services/applicant/domain_support.h"

namespace clerkship::applicant {
namespace {

namespace type = clerkship::type::v1;
using App = v1::Application;
using auth::Identity;
using catalog::v1::SeatHold;

constexpr int kMaxAttempts = 8;
constexpr absl::Duration kMaxOfferAhead = absl::Hours(24 * 30);
constexpr absl::Duration kSubmitKeyTtl = absl::Hours(24);
constexpr absl::Duration kMatchKeyTtl = absl::Hours(24 * 30);

std::string IdOf(const std::string& name) { return name.substr(name.rfind('/') + 1); }

EventRecord TransitionEvent(const StoredApplication& next, AppState from, AppState to,
                            const std::string& actor, const std::string& reason, absl::Time now) {
  const App& app = next.application;
  events::v1::Event e = events::NewEvent(kEventSource, TransitionEventType(to), app.name(), actor);
  *e.mutable_time() = ToProtoTime(now);
  events::v1::ApplicationTransitioned* t = e.mutable_application_transitioned();
  t->set_application(app.name());
  t->set_applicant(app.applicant());
  t->set_session(app.session());
  t->set_rotation(app.rotation());
  t->set_site(app.site());
  t->set_from_state(StateName(from));
  t->set_to_state(StateName(to));
  t->set_reason(reason);
  if (app.has_offer_expire_time()) *t->mutable_offer_expire_time() = app.offer_expire_time();
  t->set_round(app.round());
  t->set_rotation_title(app.rotation_title());
  t->set_site_display_name(app.site_display_name());
  t->set_site_time_zone(next.site_time_zone);
  t->set_session_start_date(app.session_start_date());
  t->set_session_end_date(app.session_end_date());
  return EventRecord{e.type(), e.SerializeAsString()};
}

absl::Status OfferExpiredError(const App& app) {
  return ErrorWithInfo(
      absl::StatusCode::kFailedPrecondition,
      absl::StrCat("the offer expired at ",
                   absl::FormatTime(absl::RFC3339_sec, FromProtoTime(app.offer_expire_time()),
                                    absl::UTCTimeZone()),
                   " and can no longer be accepted"),
      "OFFER_EXPIRED", kDomain);
}

// The catalog's "no seat" becomes this service's error, with its own domain.
absl::Status SeatError(const absl::Status& status, const std::string& session) {
  if (status.code() == absl::StatusCode::kResourceExhausted) {
    return ErrorWithInfo(absl::StatusCode::kResourceExhausted,
                         absl::StrCat("no seat is free in ", session), "NO_SEATS_AVAILABLE",
                         kDomain);
  }
  return status;
}

bool IsInvalidTransition(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         ErrorReasonOf(status) == "INVALID_STATE_TRANSITION";
}

absl::Status CheckEtag(const std::string& requested, const App& current) {
  if (requested.empty() || requested == current.etag()) return absl::OkStatus();
  return StaleEtagError("application");
}

}  // namespace

ApplicationLifecycle::ApplicationLifecycle(ApplicantStore* store, CatalogClient* catalog,
                                           Clock* clock, LifecycleOptions options)
    : store_(store), catalog_(catalog), clock_(clock), options_(std::move(options)) {}

// ---------------------------------------------------------------------------------------
// Building blocks

void ApplicationLifecycle::LoadFor(const Identity& who, const std::string& name, Access access,
                                   Done<StoredApplication> done) {
  bool role_may = false;
  switch (access) {
    case Access::kRead:
      role_may = who.authenticated();
      break;
    case Access::kSiteStaff:
      role_may = who.is_privileged() || who.role == auth::Role::kCoordinator;
      break;
    case Access::kSelf:
      role_may = who.role == auth::Role::kApplicant;
      break;
    case Access::kPrivileged:
      role_may = who.is_privileged();
      break;
  }
  if (!role_may) {
    return done(auth::PermissionDenied(
        absl::StrCat(auth::RoleName(who.role), "s may not do this to applications")));
  }
  store_->GetApplication(
      IdOf(name), [who, access, done = std::move(done)](absl::StatusOr<StoredApplication> stored) {
        if (!stored.ok()) {
          // Nobody but admins and services learns whether an application they may not see exists.
          if (stored.status().code() == absl::StatusCode::kNotFound && !who.is_privileged()) {
            return done(auth::PermissionDenied("this application is not yours"));
          }
          return done(stored.status());
        }
        const App& app = stored->application;
        bool allowed = false;
        switch (access) {
          case Access::kRead:
            allowed = who.is_privileged() || who.is_applicant(app.applicant()) ||
                      who.is_coordinator_of(app.site());
            break;
          case Access::kSiteStaff:
            allowed = who.is_privileged() || who.is_coordinator_of(app.site());
            break;
          case Access::kSelf:
            allowed = who.is_applicant(app.applicant());
            break;
          case Access::kPrivileged:
            allowed = who.is_privileged();
            break;
        }
        if (!allowed) {
          return done(auth::PermissionDenied(access == Access::kSiteStaff
                                                 ? "this application is to another site"
                                                 : "this application is not yours"));
        }
        done(std::move(stored));
      });
}

void ApplicationLifecycle::Transact(const std::string& application_id, Planner planner,
                                    Done<Outcome> done, std::optional<StoredApplication> first,
                                    int attempt) {
  auto decide = [this, application_id, planner, attempt,
                 done = std::move(done)](absl::StatusOr<StoredApplication> current) mutable {
    if (!current.ok()) return done(current.status());
    absl::StatusOr<std::optional<ApplicationWrite>> plan = planner(*current);
    if (!plan.ok()) return done(plan.status());
    if (!plan->has_value()) return done(Outcome{std::move(*current), false});
    store_->WriteApplication(
        **plan, [this, application_id, planner, attempt,
                 done = std::move(done)](absl::StatusOr<StoredApplication> written) mutable {
          if (IsConcurrentUpdate(written.status()) && attempt + 1 < kMaxAttempts) {
            return Transact(application_id, std::move(planner), std::move(done), std::nullopt,
                            attempt + 1);
          }
          if (!written.ok()) return done(written.status());
          done(Outcome{std::move(*written), true});
        });
  };
  if (first) return decide(std::move(*first));
  store_->GetApplication(application_id, std::move(decide));
}

ApplicationWrite ApplicationLifecycle::Transition(const StoredApplication& current, AppState to,
                                                  const Actor& actor,
                                                  const std::function<void(App*)>& edit) const {
  absl::Time now = clock_->Now();
  AppState from = current.application.state();
  ApplicationWrite w;
  w.expected_etag = current.application.etag();
  w.next = current;
  App& app = w.next.application;
  app.set_state(to);
  App::Transition* step = app.add_history();
  step->set_from_state(from);
  step->set_to_state(to);
  step->set_actor(actor.principal);
  *step->mutable_time() = ToProtoTime(now);
  step->set_reason(actor.reason);
  *app.mutable_update_time() = ToProtoTime(now);
  if (to == App::WAITLISTED) *app.mutable_waitlist_time() = ToProtoTime(now);
  if (edit) edit(&app);
  app.set_waitlist_position(0);  // computed at read time, never stored
  StampEtag(&app);

  w.leaves_live = !IsLive(to);
  if (to == App::WAITLISTED) {
    w.waitlist = ApplicationWrite::WaitlistOp::kInsert;
  } else if (from == App::WAITLISTED) {
    w.waitlist = ApplicationWrite::WaitlistOp::kRemove;
  }
  if (to == App::OFFERED) {
    w.offer_schedule = ApplicationWrite::OfferScheduleOp::kSet;
    w.offer_expire_time = FromProtoTime(app.offer_expire_time());
  } else if (from == App::OFFERED) {
    w.offer_schedule = ApplicationWrite::OfferScheduleOp::kRemove;
  }
  // Every end without a seat gives back whatever the application might hold, including a
  // hold left over from an offer that crashed before its state write.
  if (ReleasesSeat(to)) w.release_due = now + options_.release_retry;
  w.event = TransitionEvent(w.next, from, to, actor.principal, actor.reason, now);
  return w;
}

ApplicationWrite ApplicationLifecycle::Update(const StoredApplication& current,
                                              const std::function<void(App*)>& edit) const {
  ApplicationWrite w;
  w.expected_etag = current.application.etag();
  w.next = current;
  App& app = w.next.application;
  *app.mutable_update_time() = ToProtoTime(clock_->Now());
  if (edit) edit(&app);
  app.set_waitlist_position(0);
  StampEtag(&app);
  return w;
}

void ApplicationLifecycle::ReleaseSeatOf(const StoredApplication& stored,
                                         std::function<void()> then) {
  const App& app = stored.application;
  std::string id = IdOf(app.name());
  std::string name = app.name();
  catalog_->ReleaseSeat(
      app.session(), app.name(), StateName(app.state()),
      [this, id, name, then = std::move(then)](absl::StatusOr<catalog::v1::ReleaseSeatResponse> r) {
        if (!r.ok()) {
          // The outbox entry stays; the scheduler retries after the release delay.
          log::Warning("seat release failed, will retry",
                       {{"application", name}, {"error", std::string(r.status().message())}});
          return then();
        }
        store_->FinishRelease(id, [then](absl::StatusOr<bool>) { then(); });
      });
}

absl::Time ApplicationLifecycle::ClampHold(absl::Time hold_until) const {
  return std::min(hold_until, clock_->Now() + kMaxOfferAhead);
}

absl::Status ApplicationLifecycle::CheckOfferExpireTime(
    const v1::OfferApplicationRequest& request) const {
  if (!request.has_offer_expire_time()) return absl::OkStatus();
  absl::Time t = FromProtoTime(request.offer_expire_time());
  absl::Time now = clock_->Now();
  if (t <= now || t > now + kMaxOfferAhead) {
    return InvalidFieldError("offer_expire_time",
                             "must be in the future and at most 30 days ahead");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Reading

void ApplicationLifecycle::Get(const Identity& who, const v1::GetApplicationRequest& request,
                               Done<App> done) {
  Validator v;
  if (!v.RequireName("name", request.name(), "applications")) return done(v.Finish());
  LoadFor(who, request.name(), Access::kRead,
          [done = std::move(done)](absl::StatusOr<StoredApplication> stored) {
            if (!stored.ok()) return done(stored.status());
            done(std::move(stored->application));
          });
}

void ApplicationLifecycle::List(const Identity& who, const v1::ListApplicationsRequest& request,
                                Done<v1::ListApplicationsResponse> done) {
  Validator v;
  if (!request.applicant().empty()) v.RequireName("applicant", request.applicant(), "applicants");
  if (!request.rotation().empty()) v.RequireName("rotation", request.rotation(), "rotations");
  if (!request.session().empty()) RequireSessionName(&v, "session", request.session());
  if (!request.site().empty()) v.RequireName("site", request.site(), "sites");
  v.Check(App::State_IsValid(request.state()), "state", "must be a known application state");
  ApplicationQuery query;
  const std::string& order_by = request.order_by();
  if (order_by.empty() || order_by == "create_time desc") {
    query.order = ApplicationQuery::Order::kNewestFirst;
  } else if (order_by == "create_time") {
    query.order = ApplicationQuery::Order::kOldestFirst;
  } else if (order_by == "waitlist_position") {
    query.order = ApplicationQuery::Order::kWaitlist;
    v.Check(!request.session().empty() && request.state() == App::WAITLISTED, "order_by",
            "waitlist_position needs the session filter and state WAITLISTED");
  } else {
    v.Add("order_by", "must be \"create_time desc\", \"create_time\" or \"waitlist_position\"");
  }
  absl::StatusOr<int> page_size = PageSize(request.page_size(), 20, 100);
  if (!page_size.ok()) return done(page_size.status());
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);

  query.applicant = request.applicant();
  query.rotation = request.rotation();
  query.session = request.session();
  query.site = request.site();
  if (who.role == auth::Role::kApplicant) {
    if (query.applicant.empty()) query.applicant = who.principal;
    if (query.applicant != who.principal) {
      return done(auth::PermissionDenied("applicants list only their own applications"));
    }
  } else if (who.role == auth::Role::kCoordinator) {
    if (query.site.empty()) query.site = who.site;
    if (query.site.empty() || query.site != who.site) {
      return done(auth::PermissionDenied("coordinators list only applications to their site"));
    }
  } else if (!who.is_privileged()) {
    return done(auth::PermissionDenied("sign-in required"));
  }
  if (request.state() != App::STATE_UNSPECIFIED) query.state = StateName(request.state());
  query.limit = *page_size;

  // Bound to the caller: one user's token is refused for another (see page_token.h).
  uint64_t fingerprint = CallerFingerprint(
      absl::StrCat("applications|", query.applicant, "|", query.rotation, "|", query.session,
                   "|", query.site, "|", query.state, "|", order_by),
      who.principal);
  if (!request.page_token().empty()) {
    absl::StatusOr<PageCursor> cursor = DecodePageToken(request.page_token(), fingerprint);
    if (!cursor.ok()) return done(cursor.status());
    query.after = cursor->position;
  }
  store_->ListApplications(
      query, [fingerprint, done = std::move(done)](absl::StatusOr<ApplicationPage> page) {
        if (!page.ok()) {
          if (page.status().code() == absl::StatusCode::kInvalidArgument) {
            return done(InvalidFieldError("page_token", "is not a valid page token"));
          }
          return done(page.status());
        }
        v1::ListApplicationsResponse response;
        for (StoredApplication& a : page->applications) {
          *response.add_applications() = std::move(a.application);
        }
        if (!page->next.empty()) {
          response.set_next_page_token(EncodePageToken({fingerprint, page->next}));
        }
        done(std::move(response));
      });
}

// ---------------------------------------------------------------------------------------
// Submitting

struct ApplicationLifecycle::SubmitState {
  Identity who;
  v1::SubmitApplicationRequest request;
  Done<App> done;
  std::string applicant_id;
  std::string idempotency_key;
  v1::Applicant applicant;
  std::vector<v1::Document> documents;
  catalog::v1::Session session;
  catalog::v1::Rotation rotation;
  catalog::v1::Site site;
  std::optional<StoredApplication> live;  // an open application to the same session

  // The independent reads run at once; each stores its outcome in its own field and the
  // last to finish (the acq_rel count orders the writes before it) carries on.
  std::atomic<int> pending{0};
  absl::Status applicant_status, documents_status, session_status, rotation_status,
      live_status;
};

void ApplicationLifecycle::Submit(const Identity& who, const v1::SubmitApplicationRequest& request,
                                  Done<App> done) {
  Validator v;
  v.RequireName("applicant", request.applicant(), "applicants");
  RequireSessionName(&v, "session", request.session());
  RequireChars(&v, "statement", request.statement(), 0, 5000);
  if (!request.request_id().empty()) {
    v.Check(IsValidRequestId(request.request_id()), "request_id",
            "must be 1-64 characters of letters, digits, '-' and '_'");
  }
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);
  if (!who.is_applicant(request.applicant())) {
    return done(auth::PermissionDenied("applicants submit applications only for themselves"));
  }
  auto s = std::make_shared<SubmitState>();
  s->who = who;
  s->request = request;
  s->done = std::move(done);
  s->applicant_id = ResourceId(request.applicant(), "applicants");
  if (request.request_id().empty()) return SubmitLoaded(s);
  // A retry returns the first call's application, whatever happened since.
  s->idempotency_key = absl::StrCat("app:idem:submit:", s->applicant_id, ":", request.request_id());
  store_->FindApplicationByKey(s->idempotency_key,
                               [this, s](absl::StatusOr<std::optional<StoredApplication>> earlier) {
                                 if (!earlier.ok()) return s->done(earlier.status());
                                 if (earlier->has_value())
                                   return s->done(std::move((*earlier)->application));
                                 SubmitLoaded(s);
                               });
}

void ApplicationLifecycle::SubmitLoaded(std::shared_ptr<SubmitState> s) {
  // The applicant, their documents, the session, its rotation and any open application to
  // it do not depend on each other: one round trip instead of five. Errors are still
  // reported in the order the checks are made (SubmitFetchCatalog).
  s->pending.store(5, std::memory_order_relaxed);
  auto finished = [this, s] {
    if (s->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) SubmitFetchCatalog(s);
  };
  store_->GetApplicant(s->applicant_id, [s, finished](absl::StatusOr<v1::Applicant> applicant) {
    s->applicant_status = applicant.status();
    if (applicant.ok()) s->applicant = std::move(*applicant);
    finished();
  });
  store_->ListDocuments(s->applicant_id,
                        [s, finished](absl::StatusOr<std::vector<v1::Document>> documents) {
                          s->documents_status = documents.status();
                          if (documents.ok()) s->documents = std::move(*documents);
                          finished();
                        });
  catalog_->GetSession(s->request.session(),
                       [s, finished](absl::StatusOr<catalog::v1::Session> session) {
                         s->session_status = session.status();
                         if (session.ok()) s->session = std::move(*session);
                         finished();
                       });
  catalog_->GetRotation(RotationOfSession(s->request.session()),
                        [s, finished](absl::StatusOr<catalog::v1::Rotation> rotation) {
                          s->rotation_status = rotation.status();
                          if (rotation.ok()) s->rotation = std::move(*rotation);
                          finished();
                        });
  store_->FindLiveApplication(
      s->applicant_id, s->request.session(),
      [s, finished](absl::StatusOr<std::optional<StoredApplication>> live) {
        s->live_status = live.status();
        if (live.ok()) s->live = std::move(*live);
        finished();
      });
}

void ApplicationLifecycle::SubmitFetchCatalog(std::shared_ptr<SubmitState> s) {
  for (const absl::Status* status : {&s->applicant_status, &s->documents_status,
                                     &s->session_status, &s->rotation_status}) {
    if (!status->ok()) return s->done(*status);
  }
  // Sites never change once created, so the catalog client may answer this from memory.
  catalog_->GetSite(s->rotation.site(), [this, s](absl::StatusOr<catalog::v1::Site> site) {
    if (!site.ok()) return s->done(site.status());
    s->site = std::move(*site);
    SubmitDecide(s);
  });
}

void ApplicationLifecycle::SubmitDecide(std::shared_ptr<SubmitState> s) {
  absl::Time now = clock_->Now();
  if (s->rotation.state() != catalog::v1::Rotation::PUBLISHED) {
    return s->done(ErrorWithInfo(absl::StatusCode::kFailedPrecondition,
                                 "the rotation is not open for applications",
                                 "ROTATION_NOT_PUBLISHED", kDomain));
  }
  absl::CivilDay deadline;
  if (!eligibility::ParseDay(s->session.application_deadline(), &deadline) ||
      TodayIn(now, s->site.time_zone()) > deadline) {
    return s->done(ErrorWithInfo(absl::StatusCode::kFailedPrecondition,
                                 absl::StrCat("the application deadline (",
                                              s->session.application_deadline(), ") has passed"),
                                 "APPLICATION_DEADLINE_PASSED", kDomain));
  }

  // A duplicate may be our own request's first attempt racing us: then answer with it.
  auto duplicate = [this, s](absl::Status error) {
    if (s->idempotency_key.empty()) return s->done(error);
    store_->FindApplicationByKey(
        s->idempotency_key, [s, error](absl::StatusOr<std::optional<StoredApplication>> earlier) {
          if (earlier.ok() && earlier->has_value()) {
            return s->done(std::move((*earlier)->application));
          }
          s->done(error);
        });
  };

  if (!s->live_status.ok()) return s->done(s->live_status);
  if (s->live.has_value()) {
    return duplicate(ErrorWithInfo(
        absl::StatusCode::kAlreadyExists,
        absl::StrCat(s->live->application.name(), " to this session is still open"),
        "DUPLICATE_APPLICATION", kDomain));
  }

  absl::CivilDay today = TodayIn(now, s->applicant.time_zone());
  eligibility::EligibilityInput input;
  input.rotation = &s->rotation;
  input.session = &s->session;
  input.applicant = &s->applicant;
  input.documents = &s->documents;
  input.today = today;
  std::vector<PreconditionViolation> violations;
  std::vector<eligibility::Reason> reasons = eligibility::CheckEligibility(input);
  for (const eligibility::Reason& r : reasons) {
    violations.push_back({r.code, s->rotation.name(), r.message});
  }
  for (const eligibility::DocumentIssue& issue : eligibility::CheckDocuments(
           s->rotation, s->documents, eligibility::DocumentsValidThrough(&s->session, today),
           true)) {
    violations.push_back({issue.code, type::DocumentKind_Name(issue.kind), issue.message});
  }
  if (!violations.empty()) {
    bool eligible = reasons.empty();
    return s->done(PreconditionFailedError(
        eligible ? "required documents are missing or not ready"
                 : "the applicant is not eligible for this rotation",
        std::move(violations), eligible ? "DOCUMENTS_NOT_READY" : "NOT_ELIGIBLE", kDomain));
  }

  StoredApplication stored;
  stored.site_time_zone = s->site.time_zone();
  App& app = stored.application;
  app.set_name(absl::StrCat("applications/", NewResourceId()));
  app.set_applicant(s->request.applicant());
  app.set_session(s->request.session());
  app.set_rotation(s->rotation.name());
  app.set_site(s->rotation.site());
  app.set_statement(std::string(absl::StripAsciiWhitespace(s->request.statement())));
  app.set_state(App::SUBMITTED);
  App::Transition* step = app.add_history();
  step->set_from_state(App::STATE_UNSPECIFIED);
  step->set_to_state(App::SUBMITTED);
  step->set_actor(s->who.principal);
  *step->mutable_time() = ToProtoTime(now);
  app.set_rotation_title(s->rotation.title());
  app.set_site_display_name(s->site.display_name());
  app.set_session_start_date(s->session.start_date());
  app.set_session_end_date(s->session.end_date());
  *app.mutable_create_time() = ToProtoTime(now);
  *app.mutable_update_time() = app.create_time();
  StampEtag(&app);

  NewApplication create;
  create.stored = stored;
  create.idempotency_key = s->idempotency_key;
  create.idempotency_ttl = kSubmitKeyTtl;
  create.event = TransitionEvent(stored, App::STATE_UNSPECIFIED, App::SUBMITTED,
                                 s->who.principal, "", now);
  store_->CreateApplication(
      create, [s, duplicate](absl::StatusOr<CreatedApplication> created) {
        if (created.status().code() == absl::StatusCode::kAlreadyExists) {
          return duplicate(created.status());
        }
        if (!created.ok()) return s->done(created.status());
        s->done(std::move(created->stored.application));
      });
}

// ---------------------------------------------------------------------------------------
// Site actions

void ApplicationLifecycle::Offer(const Identity& who, const v1::OfferApplicationRequest& request,
                                 Done<App> done) {
  Validator v;
  v.RequireName("name", request.name(), "applications");
  RequireChars(&v, "reason", request.reason(), 0, 1000);
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);
  if (absl::Status s = CheckOfferExpireTime(request); !s.ok()) return done(s);
  absl::Time expire = request.has_offer_expire_time() ? FromProtoTime(request.offer_expire_time())
                                                      : clock_->Now() + options_.offer_ttl;
  Actor actor{who.principal, std::string(absl::StripAsciiWhitespace(request.reason()))};
  std::string etag = request.etag();
  LoadFor(who, request.name(), Access::kSiteStaff,
          [this, expire, actor, etag,
           done = std::move(done)](absl::StatusOr<StoredApplication> stored) mutable {
            if (!stored.ok()) return done(stored.status());
            const App& app = stored->application;
            if (absl::Status s = CheckEtag(etag, app); !s.ok()) return done(s);
            if (absl::Status s = CheckTransition(app.state(), App::OFFERED); !s.ok()) {
              return done(s);
            }
            HoldAndOffer(*stored, expire, actor, "", "", etag, std::move(done));
          });
}

void ApplicationLifecycle::HoldAndOffer(const StoredApplication& stored, absl::Time expire,
                                        const Actor& actor, const std::string& round,
                                        const std::string& idempotency_key, const std::string& etag,
                                        Done<App> done) {
  const App& app = stored.application;
  std::string id = IdOf(app.name());
  std::string session = app.session();
  std::string holder = app.name();
  // Step 1: the seat. If the state write below never happens, this hold lapses by itself.
  catalog_->HoldSeat(
      session, holder, ClampHold(expire + options_.hold_grace),
      [this, stored, expire, actor, round, idempotency_key, etag, id, session, holder,
       done = std::move(done)](absl::StatusOr<SeatHold> hold) mutable {
        if (!hold.ok()) return done(SeatError(hold.status(), session));
        // A hold left by an earlier attempt keeps its expiry; the offer must not outlive it.
        absl::Time offer_expire = expire;
        if (hold->state() == SeatHold::HELD && hold->has_expire_time()) {
          offer_expire = std::min(expire, FromProtoTime(hold->expire_time()) - options_.hold_grace);
        }
        Planner planner = [this, offer_expire, actor, round, idempotency_key,
                           etag](const StoredApplication& current)
            -> absl::StatusOr<std::optional<ApplicationWrite>> {
          AppState state = current.application.state();
          // Offered meanwhile by someone else: that offer owns the same hold.
          if (state == App::OFFERED || state == App::ACCEPTED || state == App::COMPLETED) {
            return std::nullopt;
          }
          if (absl::Status s = CheckEtag(etag, current.application); !s.ok()) return s;
          if (absl::Status s = CheckTransition(state, App::OFFERED); !s.ok()) return s;
          ApplicationWrite w = Transition(current, App::OFFERED, actor, [&](App* a) {
            *a->mutable_offer_expire_time() = ToProtoTime(offer_expire);
            a->set_round(round);
          });
          w.idempotency_key = idempotency_key;
          w.idempotency_ttl = kMatchKeyTtl;
          return std::optional<ApplicationWrite>(std::move(w));
        };
        // Step 2: the state.
        Transact(
            id, std::move(planner),
            [this, session, holder, done = std::move(done)](absl::StatusOr<Outcome> out) {
              if (out.ok()) {
                if (out->changed) {
                  log::Info("application offered", {{"application", holder}, {"session", session}});
                }
                return done(std::move(out->stored.application));
              }
              if (!IsInvalidTransition(out.status())) {
                // Unknown outcome (e.g. storage unavailable): the hold lapses on its own.
                return done(out.status());
              }
              // The application ended meanwhile: nobody will use this hold.
              absl::Status error = out.status();
              catalog_->ReleaseSeat(
                  session, holder, "OFFER_ABANDONED",
                  [error, done](absl::StatusOr<catalog::v1::ReleaseSeatResponse>) { done(error); });
            },
            stored);
      });
}

void ApplicationLifecycle::Waitlist(const Identity& who,
                                    const v1::WaitlistApplicationRequest& request, Done<App> done) {
  Validator v;
  v.RequireName("name", request.name(), "applications");
  v.RequireRange("position", request.position(), 0, 100000);
  RequireChars(&v, "reason", request.reason(), 0, 1000);
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);
  Actor actor{who.principal, std::string(absl::StripAsciiWhitespace(request.reason()))};
  int position = request.position();
  std::string etag = request.etag();
  std::string id = IdOf(request.name());
  LoadFor(who, request.name(), Access::kSiteStaff,
          [this, id, actor, position, etag,
           done = std::move(done)](absl::StatusOr<StoredApplication> stored) mutable {
            if (!stored.ok()) return done(stored.status());
            Planner planner = [this, actor, position, etag](const StoredApplication& current)
                -> absl::StatusOr<std::optional<ApplicationWrite>> {
              if (absl::Status s = CheckEtag(etag, current.application); !s.ok()) return s;
              AppState state = current.application.state();
              ApplicationWrite w;
              if (state == App::WAITLISTED) {
                // Only a move within the waitlist: no transition, no event.
                w = Update(current, nullptr);
                w.waitlist = ApplicationWrite::WaitlistOp::kInsert;
              } else {
                if (absl::Status s = CheckTransition(state, App::WAITLISTED); !s.ok()) return s;
                w = Transition(current, App::WAITLISTED, actor);
              }
              w.waitlist_position = position;
              return std::optional<ApplicationWrite>(std::move(w));
            };
            Transact(
                id, std::move(planner),
                [done = std::move(done)](absl::StatusOr<Outcome> out) {
                  if (!out.ok()) return done(out.status());
                  done(std::move(out->stored.application));
                },
                std::move(*stored));
          });
}

void ApplicationLifecycle::Reject(const Identity& who, const v1::RejectApplicationRequest& request,
                                  Done<App> done) {
  Validator v;
  v.RequireName("name", request.name(), "applications");
  RequireChars(&v, "reason", request.reason(), 0, 1000);
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);
  ActThenRelease(who, request.name(), request.etag(), Access::kSiteStaff, App::REJECTED,
                 request.reason(), std::move(done));
}

void ApplicationLifecycle::Complete(const Identity& who,
                                    const v1::CompleteApplicationRequest& request, Done<App> done) {
  Validator v;
  v.RequireName("name", request.name(), "applications");
  v.RequireRange("weeks_completed", request.weeks_completed(), 1, 52);
  RequireChars(&v, "evaluation_summary", request.evaluation_summary(), 0, 5000);
  v.Check(type::LorStatus_IsValid(request.lor_status()), "lor_status",
          "must be a known letter-of-recommendation status");
  if (request.lor_status() == type::LOR_SUBMITTED) {
    RequireChars(&v, "eras_letter_id", request.eras_letter_id(), 1, 64);
  } else {
    v.Check(request.eras_letter_id().empty(), "eras_letter_id",
            "must be empty unless lor_status is LOR_SUBMITTED");
  }
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);

  App::Completion completion;
  completion.set_weeks_completed(request.weeks_completed());
  completion.set_evaluation_summary(
      std::string(absl::StripAsciiWhitespace(request.evaluation_summary())));
  completion.set_lor_status(
      request.lor_status() == type::LOR_STATUS_UNSPECIFIED ? type::LOR_NONE : request.lor_status());
  completion.set_eras_letter_id(std::string(absl::StripAsciiWhitespace(request.eras_letter_id())));
  Actor actor{who.principal, ""};
  std::string etag = request.etag();
  std::string id = IdOf(request.name());

  // Writes the completion with the experience entry `entry` (already copied from the catalog).
  auto finish = [this, id, actor, etag, completion](StoredApplication stored,
                                                    v1::ExperienceEntry entry, Done<App> done) {
    entry.set_weeks(completion.weeks_completed());
    entry.set_lor_status(completion.lor_status());
    entry.set_eras_letter_id(completion.eras_letter_id());
    Planner planner =
        [this, actor, etag, completion, entry](
            const StoredApplication& current) -> absl::StatusOr<std::optional<ApplicationWrite>> {
      if (absl::Status s = CheckEtag(etag, current.application); !s.ok()) return s;
      AppState state = current.application.state();
      absl::Time now = clock_->Now();
      auto set_completion = [&](App* a) {
        *a->mutable_completion() = completion;
        *a->mutable_completion()->mutable_complete_time() = ToProtoTime(now);
      };
      ApplicationWrite w;
      if (state == App::COMPLETED) {
        w = Update(current, set_completion);  // details only: no transition, no event
      } else {
        if (absl::Status s = CheckTransition(state, App::COMPLETED); !s.ok()) return s;
        w = Transition(current, App::COMPLETED, actor, set_completion);
      }
      w.experience = entry;
      return std::optional<ApplicationWrite>(std::move(w));
    };
    Transact(
        id, std::move(planner),
        [done = std::move(done)](absl::StatusOr<Outcome> out) {
          if (!out.ok()) return done(out.status());
          done(std::move(out->stored.application));
        },
        std::move(stored));
  };

  LoadFor(
      who, request.name(), Access::kSiteStaff,
      [this, etag, finish,
       done = std::move(done)](absl::StatusOr<StoredApplication> stored) mutable {
        if (!stored.ok()) return done(stored.status());
        const App& app = stored->application;
        if (absl::Status s = CheckEtag(etag, app); !s.ok()) return done(s);
        if (app.state() != App::COMPLETED) {
          if (absl::Status s = CheckTransition(app.state(), App::COMPLETED); !s.ok()) {
            return done(s);
          }
        }
        store_->GetExperience(
            IdOf(app.applicant()), IdOf(app.name()),
            [this, stored = *stored, finish, done = std::move(done)](
                absl::StatusOr<std::optional<v1::ExperienceEntry>> existing) mutable {
              if (!existing.ok()) return done(existing.status());
              if (existing->has_value()) {
                return finish(std::move(stored), std::move(**existing), std::move(done));
              }
              // First completion: copy what the record shows from the catalog, as it is
              // now (later catalog edits do not change the record).
              std::string rotation_name = stored.application.rotation();
              catalog_->GetRotation(
                  rotation_name, [this, stored = std::move(stored), finish, done = std::move(done)](
                                     absl::StatusOr<catalog::v1::Rotation> rotation) mutable {
                    if (!rotation.ok()) return done(rotation.status());
                    std::string site_name = rotation->site();
                    catalog_->GetSite(
                        site_name,
                        [stored = std::move(stored), rotation = std::move(*rotation), finish,
                         done = std::move(done)](absl::StatusOr<catalog::v1::Site> site) mutable {
                          if (!site.ok()) return done(site.status());
                          const App& app = stored.application;
                          v1::ExperienceEntry entry;
                          entry.set_application(app.name());
                          entry.set_rotation(app.rotation());
                          entry.set_rotation_title(rotation.title());
                          entry.set_site(app.site());
                          entry.set_site_display_name(site->display_name());
                          entry.set_city(site->city());
                          entry.set_us_state(site->us_state());
                          entry.set_specialty(rotation.specialty());
                          entry.set_experience_type(rotation.experience_type());
                          entry.set_setting(rotation.setting());
                          entry.set_hands_on(eligibility::IsHandsOn(rotation));
                          entry.set_start_date(app.session_start_date());
                          entry.set_end_date(app.session_end_date());
                          entry.set_supervising_physician(rotation.supervising_physician());
                          finish(std::move(stored), std::move(entry), std::move(done));
                        });
                  });
            });
      });
}

void ApplicationLifecycle::Cancel(const Identity& who, const v1::CancelApplicationRequest& request,
                                  Done<App> done) {
  Validator v;
  v.RequireName("name", request.name(), "applications");
  RequireChars(&v, "reason", request.reason(), 1, 1000);
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);
  ActThenRelease(who, request.name(), request.etag(), Access::kPrivileged, App::CANCELLED,
                 request.reason(), std::move(done));
}

// ---------------------------------------------------------------------------------------
// Applicant actions

void ApplicationLifecycle::Accept(const Identity& who, const v1::AcceptOfferRequest& request,
                                  Done<App> done) {
  Validator v;
  if (!v.RequireName("name", request.name(), "applications")) return done(v.Finish());
  Actor actor{who.principal, ""};
  std::string etag = request.etag();
  std::string id = IdOf(request.name());
  LoadFor(
      who, request.name(), Access::kSelf,
      [this, id, actor, etag,
       done = std::move(done)](absl::StatusOr<StoredApplication> stored) mutable {
        if (!stored.ok()) return done(stored.status());
        const App& app = stored->application;
        if (absl::Status s = CheckEtag(etag, app); !s.ok()) return done(s);
        if (absl::Status s = CheckTransition(app.state(), App::ACCEPTED); !s.ok()) return done(s);
        auto expired = [this, id, done](bool force) {
          ExpireNow(id, force, [done](absl::StatusOr<Outcome> out) {
            if (!out.ok()) return done(out.status());
            const App& app = out->stored.application;
            if (app.state() == App::EXPIRED) return done(OfferExpiredError(app));
            done(CheckTransition(app.state(), App::ACCEPTED));
          });
        };
        if (clock_->Now() >= FromProtoTime(app.offer_expire_time())) return expired(false);
        // Step 1: the seat. ConfirmSeat is idempotent, so retrying after a crash below is safe.
        catalog_->ConfirmSeat(
            app.session(), app.name(),
            [this, id, actor, etag, expired,
             done = std::move(done)](absl::StatusOr<SeatHold> confirmed) mutable {
              if (!confirmed.ok()) {
                std::string reason = ErrorReasonOf(confirmed.status());
                if (confirmed.status().code() == absl::StatusCode::kFailedPrecondition &&
                    (reason == "HOLD_EXPIRED" || reason == "HOLD_NOT_FOUND")) {
                  return expired(true);  // the seat is gone, so is the offer
                }
                return done(confirmed.status());
              }
              // Step 2: the state.
              Planner planner = [this, actor, etag](const StoredApplication& current)
                  -> absl::StatusOr<std::optional<ApplicationWrite>> {
                AppState state = current.application.state();
                if (state == App::ACCEPTED) return std::nullopt;
                if (state == App::EXPIRED) return OfferExpiredError(current.application);
                if (absl::Status s = CheckEtag(etag, current.application); !s.ok()) return s;
                if (absl::Status s = CheckTransition(state, App::ACCEPTED); !s.ok()) return s;
                return std::optional<ApplicationWrite>(Transition(current, App::ACCEPTED, actor));
              };
              Transact(id, std::move(planner),
                       [done = std::move(done)](absl::StatusOr<Outcome> out) {
                         if (!out.ok()) return done(out.status());
                         done(std::move(out->stored.application));
                       });
            });
      });
}

void ApplicationLifecycle::Decline(const Identity& who, const v1::DeclineOfferRequest& request,
                                   Done<App> done) {
  Validator v;
  v.RequireName("name", request.name(), "applications");
  RequireChars(&v, "reason", request.reason(), 0, 1000);
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);
  ActThenRelease(who, request.name(), request.etag(), Access::kSelf, App::DECLINED,
                 request.reason(), std::move(done));
}

void ApplicationLifecycle::Withdraw(const Identity& who,
                                    const v1::WithdrawApplicationRequest& request, Done<App> done) {
  Validator v;
  v.RequireName("name", request.name(), "applications");
  RequireChars(&v, "reason", request.reason(), 0, 1000);
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);
  ActThenRelease(who, request.name(), request.etag(), Access::kSelf, App::WITHDRAWN,
                 request.reason(), std::move(done));
}

void ApplicationLifecycle::ActThenRelease(const Identity& who, const std::string& name,
                                          const std::string& etag, Access access, AppState to,
                                          const std::string& reason, Done<App> done) {
  Actor actor{who.principal, std::string(absl::StripAsciiWhitespace(reason))};
  std::string id = IdOf(name);
  LoadFor(who, name, access,
          [this, id, actor, etag, to,
           done = std::move(done)](absl::StatusOr<StoredApplication> stored) mutable {
            if (!stored.ok()) return done(stored.status());
            Planner planner = [this, actor, etag, to](const StoredApplication& current)
                -> absl::StatusOr<std::optional<ApplicationWrite>> {
              if (absl::Status s = CheckEtag(etag, current.application); !s.ok()) return s;
              if (absl::Status s = CheckTransition(current.application.state(), to); !s.ok())
                return s;
              return std::optional<ApplicationWrite>(Transition(current, to, actor));
            };
            // The state first (with the release in the outbox), then the seat.
            Transact(
                id, std::move(planner),
                [this, done = std::move(done)](absl::StatusOr<Outcome> out) mutable {
                  if (!out.ok()) return done(out.status());
                  StoredApplication stored = std::move(out->stored);
                  App app = stored.application;
                  ReleaseSeatOf(stored, [app = std::move(app), done = std::move(done)]() mutable {
                    done(std::move(app));
                  });
                },
                std::move(*stored));
          });
}

// ---------------------------------------------------------------------------------------
// Matched offers (placement rounds)

struct ApplicationLifecycle::MatchState {
  Identity who;
  v1::CreateMatchedOfferRequest request;
  Done<App> done;
  std::string applicant_id;
  std::string idempotency_key;
  absl::Time expire;
  catalog::v1::Session session;
  catalog::v1::Rotation rotation;
  catalog::v1::Site site;
  int attempt = 0;
};

void ApplicationLifecycle::CreateMatchedOffer(const Identity& who,
                                              const v1::CreateMatchedOfferRequest& request,
                                              Done<App> done) {
  Validator v;
  v.RequireName("applicant", request.applicant(), "applicants");
  RequireSessionName(&v, "session", request.session());
  v.RequireName("round", request.round(), "rounds");
  RequireChars(&v, "request_id", request.request_id(), 1, 200);
  if (absl::Status s = v.Finish(); !s.ok()) return done(s);
  v1::OfferApplicationRequest expiry;
  if (request.has_offer_expire_time()) {
    *expiry.mutable_offer_expire_time() = request.offer_expire_time();
  }
  if (absl::Status s = CheckOfferExpireTime(expiry); !s.ok()) return done(s);
  if (!who.is_privileged()) {
    return done(
        auth::PermissionDenied("only the matching service and admins create matched offers"));
  }
  auto m = std::make_shared<MatchState>();
  m->who = who;
  m->request = request;
  m->done = std::move(done);
  m->applicant_id = ResourceId(request.applicant(), "applicants");
  m->idempotency_key = absl::StrCat("app:idem:matched:", request.request_id());
  m->expire = request.has_offer_expire_time() ? FromProtoTime(request.offer_expire_time())
                                              : clock_->Now() + options_.offer_ttl;
  store_->FindApplicationByKey(
      m->idempotency_key, [this, m](absl::StatusOr<std::optional<StoredApplication>> earlier) {
        if (!earlier.ok()) return m->done(earlier.status());
        if (earlier->has_value()) return m->done(std::move((*earlier)->application));
        store_->GetApplicant(m->applicant_id, [this, m](absl::StatusOr<v1::Applicant> a) {
          if (!a.ok()) return m->done(a.status());
          catalog_->GetSession(
              m->request.session(), [this, m](absl::StatusOr<catalog::v1::Session> session) {
                if (!session.ok()) return m->done(session.status());
                m->session = std::move(*session);
                catalog_->GetRotation(
                    RotationOfSession(m->request.session()),
                    [this, m](absl::StatusOr<catalog::v1::Rotation> rotation) {
                      if (!rotation.ok()) return m->done(rotation.status());
                      m->rotation = std::move(*rotation);
                      if (m->rotation.state() != catalog::v1::Rotation::PUBLISHED) {
                        return m->done(ErrorWithInfo(absl::StatusCode::kFailedPrecondition,
                                                     "the rotation is not published",
                                                     "ROTATION_NOT_PUBLISHED", kDomain));
                      }
                      catalog_->GetSite(m->rotation.site(),
                                        [this, m](absl::StatusOr<catalog::v1::Site> site) {
                                          if (!site.ok()) return m->done(site.status());
                                          m->site = std::move(*site);
                                          MatchLoaded(m);
                                        });
                    });
              });
        });
      });
}

void ApplicationLifecycle::MatchLoaded(std::shared_ptr<MatchState> m) {
  store_->FindLiveApplication(
      m->applicant_id, m->request.session(),
      [this, m](absl::StatusOr<std::optional<StoredApplication>> live) {
        if (!live.ok()) return m->done(live.status());
        if (!live->has_value()) return MatchCreate(m);
        StoredApplication& existing = **live;
        AppState state = existing.application.state();
        if (state == App::SUBMITTED || state == App::WAITLISTED) {
          Actor actor{m->who.principal, absl::StrCat("matched in ", m->request.round())};
          return HoldAndOffer(existing, m->expire, actor, m->request.round(), m->idempotency_key,
                              "", m->done);
        }
        // Already offered, accepted or completed: nothing to add.
        m->done(std::move(existing.application));
      });
}

void ApplicationLifecycle::MatchCreate(std::shared_ptr<MatchState> m) {
  // The id derives from the request id, so that a retry after a crash between the hold and
  // the creation finds the same hold (holds are per holder) and the same application.
  std::string name =
      absl::StrCat("applications/m", Sha256Hex(m->request.request_id()).substr(0, 23));
  catalog_->HoldSeat(
      m->request.session(), name, ClampHold(m->expire + options_.hold_grace),
      [this, m, name](absl::StatusOr<SeatHold> hold) {
        if (!hold.ok()) return m->done(SeatError(hold.status(), m->request.session()));
        absl::Time now = clock_->Now();
        absl::Time offer_expire = m->expire;
        if (hold->state() == SeatHold::HELD && hold->has_expire_time()) {
          offer_expire =
              std::min(m->expire, FromProtoTime(hold->expire_time()) - options_.hold_grace);
        }
        std::string reason = absl::StrCat("matched in ", m->request.round());
        StoredApplication stored;
        stored.site_time_zone = m->site.time_zone();
        App& app = stored.application;
        app.set_name(name);
        app.set_applicant(m->request.applicant());
        app.set_session(m->request.session());
        app.set_rotation(m->rotation.name());
        app.set_site(m->rotation.site());
        app.set_state(App::OFFERED);
        App::Transition* step = app.add_history();
        step->set_from_state(App::STATE_UNSPECIFIED);
        step->set_to_state(App::OFFERED);
        step->set_actor(m->who.principal);
        *step->mutable_time() = ToProtoTime(now);
        step->set_reason(reason);
        *app.mutable_offer_expire_time() = ToProtoTime(offer_expire);
        app.set_round(m->request.round());
        app.set_rotation_title(m->rotation.title());
        app.set_site_display_name(m->site.display_name());
        app.set_session_start_date(m->session.start_date());
        app.set_session_end_date(m->session.end_date());
        *app.mutable_create_time() = ToProtoTime(now);
        *app.mutable_update_time() = app.create_time();
        StampEtag(&app);

        NewApplication create;
        create.stored = stored;
        create.idempotency_key = m->idempotency_key;
        create.idempotency_ttl = kMatchKeyTtl;
        create.offer_expire_time = offer_expire;
        create.event = TransitionEvent(stored, App::STATE_UNSPECIFIED, App::OFFERED,
                                       m->who.principal, reason, now);
        store_->CreateApplication(create, [this, m,
                                           name](absl::StatusOr<CreatedApplication> created) {
          if (created.ok()) return m->done(std::move(created->stored.application));
          if (created.status().code() != absl::StatusCode::kAlreadyExists) {
            return m->done(created.status());
          }
          // The applicant applied meanwhile: give this hold back and offer that application.
          absl::Status error = created.status();
          catalog_->ReleaseSeat(m->request.session(), name, "OFFER_ABANDONED",
                                [this, m, error](absl::StatusOr<catalog::v1::ReleaseSeatResponse>) {
                                  if (++m->attempt >= 3) return m->done(error);
                                  MatchLoaded(m);
                                });
        });
      });
}

// ---------------------------------------------------------------------------------------
// Expiry and the release outbox

void ApplicationLifecycle::ExpireNow(const std::string& application_id, bool force,
                                     Done<Outcome> done) {
  Actor actor{options_.service_principal, "the offer was not accepted in time"};
  Planner planner =
      [this, force,
       actor](const StoredApplication& current) -> absl::StatusOr<std::optional<ApplicationWrite>> {
    const App& app = current.application;
    if (app.state() != App::OFFERED) return std::nullopt;
    if (!force && clock_->Now() < FromProtoTime(app.offer_expire_time())) return std::nullopt;
    return std::optional<ApplicationWrite>(Transition(current, App::EXPIRED, actor));
  };
  Transact(application_id, std::move(planner),
           [this, done = std::move(done)](absl::StatusOr<Outcome> out) mutable {
             if (!out.ok() || !out->changed) return done(std::move(out));
             log::Info("offer expired", {{"application", out->stored.application.name()},
                                         {"session", out->stored.application.session()}});
             StoredApplication stored = out->stored;
             ReleaseSeatOf(stored, [out = std::move(*out), done = std::move(done)]() mutable {
               done(std::move(out));
             });
           });
}

void ApplicationLifecycle::ExpireOffer(const std::string& application_id, Done<bool> done) {
  ExpireNow(application_id, false,
            [this, application_id, done = std::move(done)](absl::StatusOr<Outcome> out) mutable {
              auto drop = [this, application_id](Done<bool> done, bool result) {
                store_->UnscheduleOfferExpiry(
                    application_id, [done, result](absl::StatusOr<bool>) { done(result); });
              };
              if (!out.ok()) {
                if (out.status().code() == absl::StatusCode::kNotFound)
                  return drop(std::move(done), false);
                return done(out.status());
              }
              if (out->changed) return done(true);
              const App& app = out->stored.application;
              if (app.state() == App::OFFERED) {
                // Not due yet (the claim pushed it a lease ahead): put back its real expiry.
                return store_->ScheduleOfferExpiry(application_id,
                                                   FromProtoTime(app.offer_expire_time()),
                                                   [done](absl::StatusOr<bool> s) {
                                                     if (!s.ok()) return done(s.status());
                                                     done(false);
                                                   });
              }
              drop(std::move(done), false);
            });
}

void ApplicationLifecycle::RetryRelease(const std::string& application_id, Done<bool> done) {
  store_->GetApplication(application_id, [this, application_id, done = std::move(done)](
                                             absl::StatusOr<StoredApplication> stored) mutable {
    auto forget = [this, application_id, done]() {
      store_->FinishRelease(application_id, [done](absl::StatusOr<bool>) { done(false); });
    };
    if (!stored.ok()) {
      if (stored.status().code() == absl::StatusCode::kNotFound) return forget();
      return done(stored.status());
    }
    if (!ReleasesSeat(stored->application.state())) return forget();
    ReleaseSeatOf(*stored, [done]() { done(true); });
  });
}

}  // namespace clerkship::applicant
