#include "services/matching/matching_service.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "clerkship/events/v1/events.pb.h"
#include "common/auth/identity.h"
#include "common/eligibility/eligibility.h"
#include "common/events/events.h"
#include "common/logging/log.h"
#include "common/server/reactor.h"
#include "common/status/status.h"
#include "common/status/validation.h"
#include "common/util/ids.h"
#include "common/util/page_token.h"
#include "services/matching/algorithm/deferred_acceptance.h"
#include "services/matching/algorithm/round_json.h"
#include "services/matching/algorithm/round_stats.h"
#include "services/matching/algorithm/session_preferences.h"
#include "services/matching/algorithm/verify.h"
#include "services/matching/recommender.h"
#include "services/matching/round_logic.h"

namespace clerkship::matching {
namespace {

using applicant::v1::Applicant;
using applicant::v1::Application;
using catalog::v1::Rotation;

constexpr int kMaxRecommendOffset = 10000;

absl::Status Precondition(absl::string_view message, absl::string_view reason) {
  return ErrorWithInfo(absl::StatusCode::kFailedPrecondition, message, reason,
                       kMatchingDomain);
}

absl::Status RankingClosed() {
  return Precondition("ranking is closed for this round", "RANKING_CLOSED");
}

// Turns a dependency's failure into what our caller should see: its NOT_FOUND
// and INVALID_ARGUMENT are about names the caller gave us; anything else means
// the dependency is not answering properly.
absl::Status DependencyError(const absl::Status& status,
                             absl::string_view what) {
  if (absl::IsNotFound(status)) {
    return ErrorWithInfo(absl::StatusCode::kNotFound,
                         absl::StrCat(what, " does not exist"), "NOT_FOUND",
                         kMatchingDomain);
  }
  if (absl::IsPermissionDenied(status) || absl::IsInvalidArgument(status))
    return status;
  return ErrorWithInfo(
      absl::StatusCode::kUnavailable,
      absl::StrCat("cannot reach the service that owns ", what),
      "DEPENDENCY_UNAVAILABLE", kMatchingDomain);
}

bool IsLive(Application::State state) {
  switch (state) {
    case Application::REJECTED:
    case Application::WITHDRAWN:
    case Application::DECLINED:
    case Application::EXPIRED:
    case Application::CANCELLED:
    case Application::STATE_UNSPECIFIED:
      return false;
    default:
      return true;
  }
}

// What is stored as a round's record: the BASIC view without the derived
// fields.
v1::Round StorageRecord(v1::Round round) {
  round.clear_etag();
  round.clear_rank_list_count();
  round.clear_session_ranking_count();
  round.clear_sessions();
  round.mutable_stats()->clear_session_fill();
  if (round.stats().ByteSizeLong() == 0) round.clear_stats();
  return round;
}

template <typename T, typename Start>
absl::StatusOr<T> Await(Start start) {
  absl::Notification done;
  absl::StatusOr<T> result = absl::UnknownError("no result");
  start([&](absl::StatusOr<T> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

// NOT_FOUND naming the missing inputs as field violations, so clients can point
// at them.
absl::Status NotFoundWithFields(absl::string_view message,
                                std::vector<FieldViolation> fields) {
  absl::Status out(absl::StatusCode::kNotFound, message);
  InvalidArgumentError(std::move(fields))
      .ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
        out.SetPayload(url, payload);
      });
  return WithErrorInfo(out, "SESSION_NOT_FOUND", kMatchingDomain);
}

int64_t RandomSeed() {
  std::random_device device;
  std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device());
  int64_t seed = 0;
  while (seed == 0) seed = static_cast<int64_t>(rng() >> 1);
  return seed;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Round worker

RoundWorker::RoundWorker() {
  thread_ = std::thread([this] {
    while (true) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // stopping and drained
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  });
}

RoundWorker::~RoundWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void RoundWorker::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

MatchingServiceImpl::MatchingServiceImpl(RoundStore* store, CatalogCache* cache,
                                         CatalogClient* catalog,
                                         ApplicantClient* applicants,
                                         Clock* clock,
                                         MatchingServiceOptions options)
    : store_(store),
      cache_(cache),
      catalog_(catalog),
      applicants_(applicants),
      clock_(clock),
      options_(options) {}

void MatchingServiceImpl::LookupRotation(const std::string& rotation,
                                         Done<Rotation> done) {
  if (std::shared_ptr<const CatalogRotation> entry =
          cache_->FindRotation(rotation)) {
    return done(entry->rotation);
  }
  catalog_->GetRotation(rotation, std::move(done));
}

// ---------------------------------------------------------------------------------------
// RecommendRotations

namespace {

struct RecommendCall {
  grpc::ServerUnaryReactor* reactor;
  v1::RecommendRotationsResponse* response;
  std::string applicant_name;
  int offset = 0;
  int limit = 10;
  uint64_t fingerprint = 0;
  Applicant applicant;
  absl::flat_hash_set<std::string> live_sessions;
  applicant::v1::ListApplicationsRequest list;
};

}  // namespace

grpc::ServerUnaryReactor* MatchingServiceImpl::RecommendRotations(
    grpc::CallbackServerContext* context,
    const v1::RecommendRotationsRequest* request,
    v1::RecommendRotationsResponse* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok())
    return FinishNow(context, s);
  Validator v;
  v.RequireName("applicant", request->applicant(), "applicants");
  v.RequireRange("page_size", request->page_size(), 0, 50);
  if (absl::Status s = v.Finish(); !s.ok()) return FinishNow(context, s);
  if (!who.is_privileged() && !who.is_applicant(request->applicant())) {
    return FinishNow(context,
                     auth::PermissionDenied(
                         "applicants see only their own recommendations"));
  }
  auto call = std::make_shared<RecommendCall>();
  call->response = response;
  call->applicant_name = request->applicant();
  call->limit = request->page_size() == 0 ? 10 : request->page_size();
  call->fingerprint = CallerFingerprint(
      absl::StrCat("recommend|", request->applicant()), who.principal);
  if (!request->page_token().empty()) {
    absl::StatusOr<PageCursor> cursor =
        DecodePageToken(request->page_token(), call->fingerprint);
    if (!cursor.ok()) return FinishNow(context, cursor.status());
    if (!absl::SimpleAtoi(cursor->position, &call->offset) ||
        call->offset < 0 || call->offset > kMaxRecommendOffset) {
      return FinishNow(context, InvalidFieldError("page_token",
                                                  "is not a valid page token"));
    }
  }
  if (!cache_->ready()) {
    return FinishNow(
        context,
        ErrorWithInfo(absl::StatusCode::kUnavailable,
                      "the catalog is still loading; try again shortly",
                      "CATALOG_NOT_READY", kMatchingDomain));
  }
  call->reactor = context->DefaultReactor();

  auto finish = [this, call]() {
    RecommendQuery query;
    query.now = clock_->Now();
    query.offset = call->offset;
    query.limit = call->limit;
    query.excluded_sessions = std::move(call->live_sessions);
    // Only whether another page follows matters, not how many results there
    // are: the scan may stop once that is certain.
    query.exact_total = false;
    std::shared_ptr<const RecommendIndex> catalog = cache_->RecommendView();
    RecommendResult result =
        Recommend(call->applicant, *catalog,
                  RecommendationEligibility(call->applicant, query.now), query);
    for (v1::Recommendation& r : result.recommendations) {
      *call->response->add_recommendations() = std::move(r);
    }
    if (call->offset + call->limit < result.total &&
        call->offset + call->limit <= kMaxRecommendOffset) {
      call->response->set_next_page_token(EncodePageToken(
          {call->fingerprint, absl::StrCat(call->offset + call->limit)}));
    }
    call->reactor->Finish(grpc::Status::OK);
  };

  // Pages through the applicant's applications to leave out sessions already
  // applied to.
  auto list_page = std::make_shared<std::function<void()>>();
  *list_page = [this, call, finish, list_page]() {
    applicants_->ListApplications(
        call->list,
        [call, finish, list_page](
            absl::StatusOr<applicant::v1::ListApplicationsResponse> page) {
          if (!page.ok()) {
            call->reactor->Finish(
                ToGrpcStatus(DependencyError(page.status(), "the applicant")));
            *list_page = nullptr;  // break the self-reference
            return;
          }
          for (const Application& a : page->applications()) {
            if (IsLive(a.state())) call->live_sessions.insert(a.session());
          }
          if (!page->next_page_token().empty()) {
            call->list.set_page_token(page->next_page_token());
            (*list_page)();
            return;
          }
          auto self = std::move(*list_page);  // keep alive while finishing
          finish();
        });
  };

  applicants_->GetApplicant(
      call->applicant_name, [call, list_page](absl::StatusOr<Applicant> a) {
        if (!a.ok()) {
          call->reactor->Finish(
              ToGrpcStatus(DependencyError(a.status(), call->applicant_name)));
          *list_page = nullptr;
          return;
        }
        call->applicant = std::move(*a);
        call->list.set_applicant(call->applicant_name);
        call->list.set_page_size(100);
        (*list_page)();
      });
  return call->reactor;
}

// ---------------------------------------------------------------------------------------
// CreateRound

namespace {

struct SessionCheck {
  absl::Mutex mu;
  int pending ABSL_GUARDED_BY(mu) = 0;
  std::vector<FieldViolation> not_found ABSL_GUARDED_BY(mu);
  std::vector<PreconditionViolation> unpublished ABSL_GUARDED_BY(mu);
  absl::Status failure ABSL_GUARDED_BY(mu);
};

}  // namespace

grpc::ServerUnaryReactor* MatchingServiceImpl::CreateRound(
    grpc::CallbackServerContext* context, const v1::CreateRoundRequest* request,
    v1::Round* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok())
    return FinishNow(context, s);
  if (!who.is_privileged())
    return FinishNow(context,
                     auth::PermissionDenied("only admins create rounds"));
  const absl::Time now = clock_->Now();
  if (absl::Status s = ValidateCreateRound(*request, now); !s.ok())
    return FinishNow(context, s);

  auto round = std::make_shared<v1::Round>();
  const v1::Round& in = request->round();
  round->set_name(absl::StrCat("rounds/", request->round_id().empty()
                                              ? NewResourceId()
                                              : request->round_id()));
  round->set_display_name(in.display_name());
  *round->mutable_sessions() = in.sessions();
  *round->mutable_rank_deadline() = in.rank_deadline();
  round->set_seed(in.seed() == 0 ? RandomSeed() : in.seed());
  round->set_max_ranks_per_applicant(in.max_ranks_per_applicant() == 0
                                         ? kDefaultMaxRanks
                                         : in.max_ranks_per_applicant());
  round->set_state(v1::Round::OPEN);
  *round->mutable_create_time() = ToProtoTime(now);

  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const std::string request_id = request->request_id();
  auto store = [this, reactor, response, round, request_id]() {
    store_->CreateRound(*round, request_id, Respond(reactor, response));
  };

  // Sessions the cache knows belong to published rotations; ask the catalog
  // about the rest.
  std::vector<int> unknown;
  for (int i = 0; i < round->sessions_size(); ++i) {
    if (!cache_->FindSession(round->sessions(i)).has_value())
      unknown.push_back(i);
  }
  if (unknown.empty()) {
    store();
    return reactor;
  }
  auto check = std::make_shared<SessionCheck>();
  {
    absl::MutexLock lock(&check->mu);
    check->pending = static_cast<int>(unknown.size());
  }
  auto one_done = [reactor, check, store]() {
    absl::Status result;
    {
      absl::MutexLock lock(&check->mu);
      if (--check->pending > 0) return;
      if (!check->failure.ok()) {
        result = check->failure;
      } else if (!check->not_found.empty()) {
        std::sort(check->not_found.begin(), check->not_found.end(),
                  [](const FieldViolation& a, const FieldViolation& b) {
                    return a.field < b.field;
                  });
        result = NotFoundWithFields(
            absl::StrCat("session ", check->not_found[0].description),
            check->not_found);
      } else if (!check->unpublished.empty()) {
        result = PreconditionFailedError(
            "a session's rotation is not published", check->unpublished,
            "ROTATION_NOT_PUBLISHED", kMatchingDomain);
      }
    }
    if (result.ok()) {
      store();
    } else {
      reactor->Finish(ToGrpcStatus(result));
    }
  };
  for (int i : unknown) {
    const std::string session = round->sessions(i);
    const std::string field = absl::StrCat("round.sessions[", i, "]");
    catalog_->GetSession(
        session, [this, check, one_done, session,
                  field](absl::StatusOr<catalog::v1::Session> found) {
          if (absl::IsNotFound(found.status())) {
            absl::MutexLock lock(&check->mu);
            check->not_found.push_back(
                {field, absl::StrCat(session, " does not exist")});
          } else if (!found.ok()) {
            absl::MutexLock lock(&check->mu);
            check->failure = DependencyError(found.status(), "the sessions");
          } else {
            LookupRotation(
                RotationOfSession(session),
                [check, one_done, session,
                 field](absl::StatusOr<Rotation> rotation) {
                  {
                    absl::MutexLock lock(&check->mu);
                    if (absl::IsNotFound(rotation.status())) {
                      check->not_found.push_back(
                          {field, absl::StrCat(session, " does not exist")});
                    } else if (!rotation.ok()) {
                      check->failure =
                          DependencyError(rotation.status(), "the rotations");
                    } else if (rotation->state() != Rotation::PUBLISHED) {
                      check->unpublished.push_back(
                          {"ROTATION_NOT_PUBLISHED", session,
                           absl::StrCat("the rotation of ", session,
                                        " is not published")});
                    }
                  }
                  one_done();
                });
            return;
          }
          one_done();
        });
  }
  return reactor;
}

// ---------------------------------------------------------------------------------------
// GetRound

grpc::ServerUnaryReactor* MatchingServiceImpl::GetRound(
    grpc::CallbackServerContext* context, const v1::GetRoundRequest* request,
    v1::Round* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok())
    return FinishNow(context, s);
  Validator v;
  v.RequireName("name", request->name(), "rounds");
  v.Check(v1::RoundView_IsValid(request->view()), "view",
          "is not a known view");
  if (absl::Status s = v.Finish(); !s.ok()) return FinishNow(context, s);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->GetRound(ResourceId(request->name(), "rounds"),
                   request->view() == v1::ROUND_VIEW_FULL,
                   Respond(reactor, response));
  return reactor;
}

// ---------------------------------------------------------------------------------------
// SubmitRankList

namespace {

struct RankListCall {
  grpc::ServerUnaryReactor* reactor;
  v1::RankList* response;
  v1::SubmitRankListRequest request;
  std::string round_id;
  Applicant applicant;
  std::vector<applicant::v1::Document> documents;
  absl::Mutex mu;
  int pending ABSL_GUARDED_BY(mu) = 0;
  std::map<std::string, absl::StatusOr<Rotation>> rotations ABSL_GUARDED_BY(mu);
};

}  // namespace

grpc::ServerUnaryReactor* MatchingServiceImpl::SubmitRankList(
    grpc::CallbackServerContext* context,
    const v1::SubmitRankListRequest* request, v1::RankList* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok())
    return FinishNow(context, s);
  if (absl::Status s = ValidateRankListRequest(*request); !s.ok())
    return FinishNow(context, s);
  if (!who.is_privileged() && !who.is_applicant(request->applicant())) {
    return FinishNow(
        context,
        auth::PermissionDenied("applicants submit only their own rank list"));
  }
  auto call = std::make_shared<RankListCall>();
  call->reactor = context->DefaultReactor();
  call->response = response;
  call->request = *request;
  call->round_id = ResourceId(request->round(), "rounds");
  std::vector<std::string> sessions(request->sessions().begin(),
                                    request->sessions().end());

  auto fail = [call](const absl::Status& s) {
    call->reactor->Finish(ToGrpcStatus(s));
  };

  // Last step: store, re-checking that ranking is still open.
  auto store = [this, call, fail]() {
    const absl::Time now = clock_->Now();
    std::vector<std::string> sessions(call->request.sessions().begin(),
                                      call->request.sessions().end());
    store_->StoreRankList(
        call->round_id, call->request.applicant(), sessions, now,
        [call, fail, now](absl::Status s) {
          if (!s.ok()) return fail(s);
          call->response->set_round(call->request.round());
          call->response->set_applicant(call->request.applicant());
          *call->response->mutable_sessions() = call->request.sessions();
          *call->response->mutable_submit_time() = ToProtoTime(now);
          call->reactor->Finish(grpc::Status::OK);
        });
  };

  // Eligibility of every ranked session, with the shared engine.
  auto judge = [this, call, fail, store]() {
    absl::TimeZone zone = absl::UTCTimeZone();
    if (!call->applicant.time_zone().empty() &&
        !absl::LoadTimeZone(call->applicant.time_zone(), &zone)) {
      zone = absl::UTCTimeZone();
    }
    const absl::CivilDay today = absl::ToCivilDay(clock_->Now(), zone);
    std::vector<PreconditionViolation> violations;
    absl::Status failure;
    {
      absl::MutexLock lock(&call->mu);
      for (const std::string& session : call->request.sessions()) {
        const absl::StatusOr<Rotation>& rotation =
            call->rotations[RotationOfSession(session)];
        if (absl::IsNotFound(rotation.status())) {
          violations.push_back({eligibility::kRotationNotPublished, session,
                                "This rotation is not open for applications."});
          continue;
        }
        if (!rotation.ok()) {
          failure = DependencyError(rotation.status(), "the rotations");
          break;
        }
        std::optional<catalog::v1::Session> cached =
            cache_->FindSession(session);
        eligibility::EligibilityInput input;
        input.rotation = &*rotation;
        input.session = cached.has_value() ? &*cached : nullptr;
        input.applicant = &call->applicant;
        input.documents = &call->documents;
        input.today = today;
        for (const eligibility::Reason& reason :
             eligibility::CheckEligibility(input)) {
          violations.push_back({reason.code, session, reason.message});
        }
      }
    }
    if (!failure.ok()) return fail(failure);
    if (!violations.empty()) {
      return fail(PreconditionFailedError(
          "the applicant is not eligible for every ranked session", violations,
          "NOT_ELIGIBLE", kMatchingDomain));
    }
    store();
  };

  auto fetch_rotations = [this, call, judge]() {
    std::set<std::string> rotations;
    for (const std::string& s : call->request.sessions())
      rotations.insert(RotationOfSession(s));
    if (rotations.empty()) return judge();
    {
      absl::MutexLock lock(&call->mu);
      call->pending = static_cast<int>(rotations.size());
    }
    for (const std::string& name : rotations) {
      LookupRotation(name,
                     [call, judge, name](absl::StatusOr<Rotation> rotation) {
                       {
                         absl::MutexLock lock(&call->mu);
                         call->rotations.emplace(name, std::move(rotation));
                         if (--call->pending > 0) return;
                       }
                       judge();
                     });
    }
  };

  auto fetch_applicant = [this, call, fail, fetch_rotations]() {
    applicants_->GetApplicant(
        call->request.applicant(),
        [this, call, fail, fetch_rotations](absl::StatusOr<Applicant> a) {
          if (!a.ok())
            return fail(DependencyError(a.status(), call->request.applicant()));
          call->applicant = std::move(*a);
          if (call->request.sessions().empty()) return fetch_rotations();
          // Documents matter for one platform rule (school authorization for
          // students).
          applicant::v1::ListDocumentsRequest docs;
          docs.set_parent(call->request.applicant());
          docs.set_kind(type::v1::SCHOOL_AUTHORIZATION_LETTER);
          docs.set_page_size(200);
          applicants_->ListDocuments(
              docs,
              [call, fail, fetch_rotations](
                  absl::StatusOr<applicant::v1::ListDocumentsResponse> r) {
                if (!r.ok())
                  return fail(
                      DependencyError(r.status(), call->request.applicant()));
                call->documents.assign(r->documents().begin(),
                                       r->documents().end());
                fetch_rotations();
              });
        });
  };

  store_->GetControl(
      call->round_id, sessions,
      [this, call, fail,
       fetch_applicant](absl::StatusOr<RoundControl> control) {
        if (!control.ok()) return fail(control.status());
        Validator v;
        for (int i = 0; i < call->request.sessions_size(); ++i) {
          v.Check(control->in_round[i], absl::StrCat("sessions[", i, "]"),
                  absl::StrCat(call->request.sessions(i),
                               " is not one of the round's sessions"));
        }
        v.Check(call->request.sessions_size() <= control->max_ranks, "sessions",
                absl::StrCat("must not list more than ", control->max_ranks,
                             " sessions (the round's limit)"));
        if (absl::Status s = v.Finish(); !s.ok()) return fail(s);
        if (control->state != v1::Round::OPEN || control->ranking_closed ||
            clock_->Now() >= control->rank_deadline) {
          return fail(RankingClosed());
        }
        fetch_applicant();
      });
  return call->reactor;
}

// ---------------------------------------------------------------------------------------
// SubmitSessionRanking

grpc::ServerUnaryReactor* MatchingServiceImpl::SubmitSessionRanking(
    grpc::CallbackServerContext* context,
    const v1::SubmitSessionRankingRequest* request,
    v1::SessionRanking* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok())
    return FinishNow(context, s);
  if (absl::Status s = ValidateSessionRankingRequest(*request); !s.ok()) {
    return FinishNow(context, s);
  }
  if (!who.is_privileged() && who.role != auth::Role::kCoordinator) {
    return FinishNow(
        context,
        auth::PermissionDenied("only the site's coordinator ranks a session"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto req = std::make_shared<v1::SubmitSessionRankingRequest>(*request);
  const std::string round_id = ResourceId(request->round(), "rounds");
  auto fail = [reactor](const absl::Status& s) {
    reactor->Finish(ToGrpcStatus(s));
  };

  auto proceed = [this, reactor, response, req, round_id, fail]() {
    store_->GetControl(
        round_id, {req->session()},
        [this, reactor, response, req, round_id,
         fail](absl::StatusOr<RoundControl> control) {
          if (!control.ok()) return fail(control.status());
          if (!control->in_round[0]) {
            return fail(InvalidFieldError(
                "session",
                absl::StrCat(req->session(),
                             " is not one of the round's sessions")));
          }
          const absl::Time now = clock_->Now();
          if (control->state != v1::Round::OPEN || control->ranking_closed ||
              now >= control->rank_deadline) {
            return fail(RankingClosed());
          }
          std::vector<std::string> applicants(req->applicants().begin(),
                                              req->applicants().end());
          store_->StoreSessionRanking(
              round_id, req->session(), applicants, now,
              [reactor, response, req, now, fail](absl::Status s) {
                if (!s.ok()) return fail(s);
                response->set_round(req->round());
                response->set_session(req->session());
                *response->mutable_applicants() = req->applicants();
                *response->mutable_submit_time() = ToProtoTime(now);
                reactor->Finish(grpc::Status::OK);
              });
        });
  };

  if (who.is_privileged()) {
    proceed();
    return reactor;
  }
  // A coordinator may rank only sessions of their own site.
  LookupRotation(
      RotationOfSession(request->session()),
      [who, proceed, fail](absl::StatusOr<Rotation> rotation) {
        if (rotation.ok() && who.is_coordinator_of(rotation->site()))
          return proceed();
        if (!rotation.ok() && !absl::IsNotFound(rotation.status())) {
          return fail(DependencyError(rotation.status(), "the rotation"));
        }
        fail(auth::PermissionDenied(
            "coordinators rank only their own site's sessions"));
      });
  return reactor;
}

// ---------------------------------------------------------------------------------------
// RunRound

absl::StatusOr<v1::Round> MatchingServiceImpl::RunRoundNow(
    const std::string& round_id, const std::string& etag,
    RunRoundTimings* timings) {
  RunRoundTimings local;
  RunRoundTimings& t = timings != nullptr ? *timings : local;
  const absl::Time started = absl::Now();
  absl::Time mark = started;
  auto lap = [&mark]() {
    const absl::Time now = absl::Now();
    const absl::Duration d = now - mark;
    mark = now;
    return d;
  };
  absl::StatusOr<v1::Round> round = store_->CloseRanking(round_id, etag);
  if (!round.ok()) return round.status();
  t.close = lap();
  absl::StatusOr<StoredRoundInputs> inputs = store_->LoadInputs(round_id);
  if (!inputs.ok()) return inputs.status();
  t.load = lap();

  // Capacity = seats available in the catalog now: the cache follows seat
  // events; a session it does not hold is asked for directly.
  std::map<std::string, int32_t> capacity;
  std::vector<std::pair<std::string, int32_t>> capacity_list;
  for (const std::string& session : inputs->sessions) {
    int32_t seats = 0;
    if (std::optional<catalog::v1::Session> cached =
            cache_->FindSession(session)) {
      seats = cached->seats_available();
    } else {
      absl::StatusOr<catalog::v1::Session> fetched =
          catalog_->GetSessionSync(session);
      if (fetched.ok()) {
        seats = fetched->seats_available();
      } else if (!absl::IsNotFound(fetched.status())) {
        return DependencyError(fetched.status(), "the sessions");
      }
    }
    seats = std::max(seats, 0);
    capacity[session] = seats;
    capacity_list.emplace_back(session, seats);
  }
  t.capacity = lap();

  absl::StatusOr<Instance> instance = BuildRoundInstance(*inputs, capacity);
  if (!instance.ok()) {
    log::Error("round inputs do not form a valid instance",
               {{"round", round->name()},
                {"error", std::string(instance.status().message())}});
    return absl::InternalError("the round's stored inputs are inconsistent");
  }
  t.build = lap();
  // The same steps as RunPlacementRound, timed apart so match_duration is the
  // algorithm's.
  const SessionPreferences prefs = BuildSessionPreferences(*instance);
  RoundOutcome outcome;
  outcome.matching = RunDeferredAcceptance(*instance, prefs);
  t.match = lap();
  outcome.verdict = VerifyMatching(*instance, prefs, outcome.matching);
  outcome.stats = ComputeRoundStats(*instance, outcome.matching);
  std::vector<v1::RoundResult> results = ResultsOf(*instance, outcome.matching);
  t.verify = lap();

  if (absl::Status s = store_->StoreResults(round_id, capacity_list, results);
      !s.ok())
    return s;
  v1::RoundStats stats =
      StatsOf(*instance, outcome, t.match, absl::Now() - started);
  v1::RoundStats fill;
  *fill.mutable_session_fill() = stats.session_fill();
  v1::Round record = StorageRecord(*round);
  record.set_state(v1::Round::RUN);
  *record.mutable_run_time() = ToProtoTime(clock_->Now());
  *record.mutable_stats() = std::move(stats);
  record.mutable_stats()->clear_session_fill();
  absl::StatusOr<v1::Round> committed =
      store_->CommitRun(round_id, record, fill);
  t.store = lap();
  if (committed.ok()) {
    auto ms = [](absl::Duration d) {
      return absl::StrCat(absl::ToDoubleMilliseconds(d));
    };
    log::Info("round run",
              {{"round", committed->name()},
               {"applicants", absl::StrCat(committed->stats().applicants())},
               {"matched", absl::StrCat(committed->stats().matched())},
               {"stable", committed->stats().stable() ? "true" : "false"},
               {"load_ms", ms(t.close + t.load + t.capacity + t.build)},
               {"match_ms", ms(t.match)},
               {"verify_ms", ms(t.verify)},
               {"store_ms", ms(t.store)}});
    if (!committed->stats().stable()) {
      log::Error("round result failed verification",
                 {{"round", committed->name()},
                  {"verdict", committed->stats().verdict()}});
    }
  }
  return committed;
}

grpc::ServerUnaryReactor* MatchingServiceImpl::RunRound(
    grpc::CallbackServerContext* context, const v1::RunRoundRequest* request,
    v1::Round* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok())
    return FinishNow(context, s);
  if (!who.is_privileged())
    return FinishNow(context, auth::PermissionDenied("only admins run rounds"));
  Validator v;
  v.RequireName("name", request->name(), "rounds");
  if (absl::Status s = v.Finish(); !s.ok()) return FinishNow(context, s);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  worker_.Post([this, reactor, response,
                id = ResourceId(request->name(), "rounds"),
                etag = request->etag()]() {
    Respond(reactor, response)(RunRoundNow(id, etag));
  });
  return reactor;
}

// ---------------------------------------------------------------------------------------
// PublishRound

absl::StatusOr<v1::Round> MatchingServiceImpl::PublishRoundNow(
    const std::string& round_id, const std::string& etag) {
  absl::StatusOr<v1::Round> round =
      Await<v1::Round>([&](StoreDone<v1::Round> done) {
        store_->GetRound(round_id, false, std::move(done));
      });
  if (!round.ok()) return round.status();
  if (!etag.empty() && etag != round->etag()) {
    return ErrorWithInfo(absl::StatusCode::kAborted,
                         "the round has changed since it was read",
                         "ETAG_MISMATCH", kMatchingDomain);
  }
  if (round->state() == v1::Round::OPEN) {
    return Precondition("the round has not been run yet", "ROUND_NOT_RUN");
  }
  absl::StatusOr<std::vector<v1::RoundResult>> results =
      store_->LoadResults(round_id);
  if (!results.ok()) return results.status();

  // Offer every match that has no application yet, a bounded number at a time.
  struct Progress {
    absl::Mutex mu;
    int in_flight ABSL_GUARDED_BY(mu) = 0;
    absl::Status transient ABSL_GUARDED_BY(mu);
    std::vector<size_t> offered ABSL_GUARDED_BY(mu);
  } progress;
  const int limit = std::max(1, options_.publish_concurrency);
  for (size_t i = 0; i < results->size(); ++i) {
    v1::RoundResult& result = (*results)[i];
    if (result.session().empty() || !result.application().empty()) continue;
    {
      absl::MutexLock lock(&progress.mu);
      auto room = [&progress, limit]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                      progress.mu) { return progress.in_flight < limit; };
      while (!room()) progress.mu.Await(absl::Condition(&room));
      if (!progress.transient.ok()) break;
      ++progress.in_flight;
    }
    applicant::v1::CreateMatchedOfferRequest offer;
    offer.set_applicant(result.applicant());
    offer.set_session(result.session());
    offer.set_round(round->name());
    offer.set_request_id(absl::StrCat(round->name(), "/", result.applicant()));
    if (options_.matched_offer_lifetime > absl::ZeroDuration()) {
      *offer.mutable_offer_expire_time() =
          ToProtoTime(clock_->Now() + options_.matched_offer_lifetime);
    }
    applicants_->CreateMatchedOffer(offer, [&progress, &result,
                                            i](absl::StatusOr<Application>
                                                   application) {
      absl::MutexLock lock(&progress.mu);
      --progress.in_flight;
      if (application.ok()) {
        result.set_application(application->name());
        progress.offered.push_back(i);
        return;
      }
      switch (application.status().code()) {
        case absl::StatusCode::kResourceExhausted:   // no seat left
        case absl::StatusCode::kFailedPrecondition:  // rotation or application
                                                     // state
        case absl::StatusCode::kNotFound:
        case absl::StatusCode::kInvalidArgument:
          return;  // counted as failed below; retried by the next PublishRound
        default:
          if (progress.transient.ok())
            progress.transient = application.status();
      }
    });
  }
  absl::Status transient;
  std::vector<v1::RoundResult> changed;
  {
    absl::MutexLock lock(&progress.mu);
    auto idle = [&progress]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(progress.mu) {
      return progress.in_flight == 0;
    };
    progress.mu.Await(absl::Condition(&idle));
    transient = progress.transient;
    for (size_t i : progress.offered) changed.push_back((*results)[i]);
  }
  if (absl::Status s = store_->UpdateResults(round_id, changed); !s.ok())
    return s;
  if (!transient.ok()) {
    log::Warning("publishing stopped: the applicant service is not answering",
                 {{"round", round->name()},
                  {"error", std::string(transient.message())}});
    return ErrorWithInfo(
        absl::StatusCode::kUnavailable,
        "the applicant service is unavailable; the round stays RUN and a "
        "retry resumes where this one stopped",
        "APPLICANT_SERVICE_UNAVAILABLE", kMatchingDomain);
  }

  int32_t matched = 0, created = 0;
  for (const v1::RoundResult& r : *results) {
    if (r.session().empty()) continue;
    ++matched;
    if (!r.application().empty()) ++created;
  }
  v1::Round record = StorageRecord(*round);
  record.mutable_stats()->set_offers_created(created);
  record.mutable_stats()->set_offers_failed(matched - created);
  if (record.state() == v1::Round::RUN) {
    record.set_state(v1::Round::PUBLISHED);
    *record.mutable_publish_time() = ToProtoTime(clock_->Now());
  }
  events::v1::Event event = events::NewEvent("matching", "round.published",
                                             round->name(), kServicePrincipal);
  events::v1::RoundPublished* payload = event.mutable_round_published();
  payload->set_round(round->name());
  payload->set_display_name(round->display_name());
  payload->set_applicants(round->stats().applicants());
  payload->set_matched(round->stats().matched());
  payload->set_unmatched(round->stats().unmatched());
  payload->set_seats(round->stats().seats());
  payload->set_offers_created(created);
  return store_->CommitPublish(round_id, record, event.SerializeAsString());
}

grpc::ServerUnaryReactor* MatchingServiceImpl::PublishRound(
    grpc::CallbackServerContext* context,
    const v1::PublishRoundRequest* request, v1::Round* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok())
    return FinishNow(context, s);
  if (!who.is_privileged()) {
    return FinishNow(context,
                     auth::PermissionDenied("only admins publish rounds"));
  }
  Validator v;
  v.RequireName("name", request->name(), "rounds");
  if (absl::Status s = v.Finish(); !s.ok()) return FinishNow(context, s);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  worker_.Post([this, reactor, response,
                id = ResourceId(request->name(), "rounds"),
                etag = request->etag()]() {
    Respond(reactor, response)(PublishRoundNow(id, etag));
  });
  return reactor;
}

// ---------------------------------------------------------------------------------------
// ListRoundResults

grpc::ServerUnaryReactor* MatchingServiceImpl::ListRoundResults(
    grpc::CallbackServerContext* context,
    const v1::ListRoundResultsRequest* request,
    v1::ListRoundResultsResponse* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok())
    return FinishNow(context, s);
  Validator v;
  v.RequireName("round", request->round(), "rounds");
  if (!request->applicant().empty())
    v.RequireName("applicant", request->applicant(), "applicants");
  if (!request->session().empty()) {
    v.Check(
        IsSessionName(request->session()), "session",
        "must be a session name \"rotations/{rotation}/sessions/{session}\"");
  }
  v.RequireRange("page_size", request->page_size(), 0, 1000);
  if (absl::Status s = v.Finish(); !s.ok()) return FinishNow(context, s);
  ResultFilter filter;
  filter.applicant = request->applicant();
  filter.session = request->session();
  filter.limit = request->page_size() == 0 ? 100 : request->page_size();
  const uint64_t fingerprint = CallerFingerprint(
      absl::StrCat("results|", request->round(), "|", request->applicant(), "|",
                   request->session()),
      who.principal);
  if (!request->page_token().empty()) {
    absl::StatusOr<PageCursor> cursor =
        DecodePageToken(request->page_token(), fingerprint);
    if (!cursor.ok()) return FinishNow(context, cursor.status());
    if (ResourceId(cursor->position, "applicants").empty()) {
      return FinishNow(context, InvalidFieldError("page_token",
                                                  "is not a valid page token"));
    }
    filter.after = cursor->position;
  }

  const bool privileged = who.is_privileged();
  if (!privileged) {
    if (who.role == auth::Role::kApplicant) {
      if (request->applicant().empty() ||
          !who.is_applicant(request->applicant())) {
        return FinishNow(
            context,
            auth::PermissionDenied(
                "applicants may list only their own result (set applicant)"));
      }
    } else if (who.role != auth::Role::kCoordinator ||
               request->session().empty()) {
      return FinishNow(
          context, auth::PermissionDenied("coordinators may list only their "
                                          "own site's sessions (set session)"));
    }
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const std::string round_id = ResourceId(request->round(), "rounds");
  auto list = [this, reactor, response, round_id, filter, privileged,
               fingerprint]() {
    store_->ListResults(
        round_id, filter,
        [reactor, response, privileged,
         fingerprint](absl::StatusOr<ResultPage> page) {
          if (!page.ok()) return reactor->Finish(ToGrpcStatus(page.status()));
          if (page->state == v1::Round::OPEN) {
            return reactor->Finish(ToGrpcStatus(Precondition(
                "the round has not been run yet", "ROUND_NOT_RUN")));
          }
          if (!privileged && page->state != v1::Round::PUBLISHED) {
            return reactor->Finish(ToGrpcStatus(
                Precondition("results are visible once the round is published",
                             "ROUND_NOT_PUBLISHED")));
          }
          for (v1::RoundResult& r : page->results)
            *response->add_results() = std::move(r);
          response->set_total_size(page->total);
          if (page->more && response->results_size() > 0) {
            response->set_next_page_token(EncodePageToken(
                {fingerprint,
                 response->results(response->results_size() - 1).applicant()}));
          }
          reactor->Finish(grpc::Status::OK);
        });
  };
  if (privileged || who.role == auth::Role::kApplicant) {
    list();
    return reactor;
  }
  LookupRotation(RotationOfSession(request->session()),
                 [who, list, reactor](absl::StatusOr<Rotation> rotation) {
                   if (rotation.ok() && who.is_coordinator_of(rotation->site()))
                     return list();
                   if (!rotation.ok() && !absl::IsNotFound(rotation.status())) {
                     return reactor->Finish(ToGrpcStatus(
                         DependencyError(rotation.status(), "the rotation")));
                   }
                   reactor->Finish(ToGrpcStatus(auth::PermissionDenied(
                       "coordinators see only their own site's sessions")));
                 });
  return reactor;
}

// ---------------------------------------------------------------------------------------
// ExportRound

absl::StatusOr<std::string> MatchingServiceImpl::ExportRoundNow(
    const std::string& round_id) {
  absl::StatusOr<StoredRoundInputs> inputs = store_->LoadInputs(round_id);
  if (!inputs.ok()) return inputs.status();
  if (inputs->round.state() == v1::Round::OPEN) {
    return Precondition("the round is still OPEN: its inputs are not final",
                        "ROUND_NOT_RUN");
  }
  std::map<std::string, int32_t> capacity(inputs->capacities.begin(),
                                          inputs->capacities.end());
  absl::StatusOr<Instance> instance = BuildRoundInstance(*inputs, capacity);
  if (!instance.ok())
    return absl::InternalError("the round's stored inputs are inconsistent");
  return WriteRoundJson(*instance, /*indent=*/-1);
}

grpc::ServerUnaryReactor* MatchingServiceImpl::ExportRound(
    grpc::CallbackServerContext* context, const v1::ExportRoundRequest* request,
    v1::ExportRoundResponse* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok())
    return FinishNow(context, s);
  if (!who.is_privileged()) {
    return FinishNow(context,
                     auth::PermissionDenied("only admins export rounds"));
  }
  Validator v;
  v.RequireName("name", request->name(), "rounds");
  if (absl::Status s = v.Finish(); !s.ok()) return FinishNow(context, s);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  worker_.Post(
      [this, reactor, response, id = ResourceId(request->name(), "rounds")]() {
        absl::StatusOr<std::string> json = ExportRoundNow(id);
        if (json.ok()) response->set_json(std::move(*json));
        reactor->Finish(ToGrpcStatus(json.status()));
      });
  return reactor;
}

}  // namespace clerkship::matching
