#include "tests/bench/load/scenarios.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clerkship/applicant/v1/applicant.grpc.pb.h"
#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "clerkship/catalog/v1/seats.grpc.pb.h"
#include "clerkship/matching/v1/matching.grpc.pb.h"
#include "clerkship/notification/v1/notification.grpc.pb.h"
#include "tests/bench/load/clock.h"
#include "echo.grpc.pb.h"
#include "tests/bench/load/http_load.h"

namespace clerkship::bench {

void SubmittedPool::Add(std::string application, int applicant) {
  absl::MutexLock lock(&mu_);
  // Bounded: a long submit run must not grow the client without limit.
  if (items_.size() < 500000) items_.emplace_back(std::move(application), applicant);
}

bool SubmittedPool::Take(std::string* application, int* applicant) {
  absl::MutexLock lock(&mu_);
  if (items_.empty()) return false;
  *application = std::move(items_.front().first);
  *applicant = items_.front().second;
  items_.pop_front();
  return true;
}

size_t SubmittedPool::size() const {
  absl::MutexLock lock(&mu_);
  return items_.size();
}

namespace {

using Done = std::function<void(bool)>;
namespace av1 = ::clerkship::applicant::v1;
namespace cv1 = ::clerkship::catalog::v1;
namespace mv1 = ::clerkship::matching::v1;
namespace nv1 = ::clerkship::notification::v1;

// One stub per channel of a target.
template <typename Service>
class Stubs {
 public:
  explicit Stubs(const Target* target) {
    if (target == nullptr) return;
    for (int i = 0; i < target->channels(); ++i) {
      stubs_.push_back(Service::NewStub(target->channel(i)));
    }
  }
  bool empty() const { return stubs_.empty(); }
  typename Service::Stub* For(int slot) {
    return stubs_[static_cast<size_t>(slot) % stubs_.size()].get();
  }

 private:
  std::vector<std::unique_ptr<typename Service::Stub>> stubs_;
};

// Starts one measured call of method number `method`; `then` gets the status and response.
template <typename Stub, typename Req, typename Resp, typename Then>
void Call(ScenarioEnv* env, const OpContext& ctx, int method, Stub* stub,
          std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> (Stub::*prepare)(
              grpc::ClientContext*, const Req&, grpc::CompletionQueue*),
          const Req& request, const Caller& caller, Then then) {
  ScenarioStats* stats = ctx.stats;
  MethodStats* m = stats->method(method);
  int64_t start = NowNanos();
  StartUnary<Stub, Req, Resp>(
      stub, prepare, env->client->cq(ctx.slot), request, caller, env->client->options().deadline,
      [stats, m, start, then = std::move(then)](const grpc::Status& s, Resp* response) {
        int64_t end = NowNanos();
        if (stats->InWindow(end)) {
          if (s.ok()) {
            m->RecordOk(end - start);
          } else {
            m->RecordError(CodeName(s.error_code()));
          }
        }
        then(s, response);
      });
}

absl::Status Need(const std::unique_ptr<Target>& target, const char* what) {
  if (target != nullptr) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("no address for the ", what, " (its binary is missing or it was not started)"));
}

void SetFuture(google::protobuf::Timestamp* ts, absl::Duration ahead) {
  absl::Time t = absl::Now() + ahead;
  ts->set_seconds(absl::ToUnixSeconds(t));
}

// ---------------------------------------------------------------------------------------

class EchoScenario : public Scenario {
 public:
  EchoScenario(ScenarioEnv* env, std::string name, const std::unique_ptr<Target>& target,
               int response_bytes)
      : env_(env), name_(std::move(name)), target_(target), stubs_(target.get()) {
    request_.set_payload("clerkship-bench-echo-payload");
    request_.set_response_bytes(response_bytes);
  }
  std::string name() const override { return name_; }
  std::vector<std::string> methods() const override { return {"Echo"}; }
  absl::Status Check() override { return Need(target_, "echo server"); }
  void StartOp(const OpContext& ctx, Done done) override {
    Call(env_, ctx, 0, stubs_.For(ctx.slot), &bench::v1::EchoService::Stub::PrepareAsyncEcho,
         request_, Caller::Anonymous(),
         [done](const grpc::Status& s, bench::v1::EchoResponse*) { done(s.ok()); });
  }

 private:
  ScenarioEnv* env_;
  std::string name_;
  const std::unique_ptr<Target>& target_;
  Stubs<bench::v1::EchoService> stubs_;
  bench::v1::EchoRequest request_;
};

class GetRotationScenario : public Scenario {
 public:
  explicit GetRotationScenario(ScenarioEnv* env)
      : env_(env), stubs_(env->endpoints.catalog.get()) {}
  std::string name() const override { return "get_rotation"; }
  std::vector<std::string> methods() const override { return {"GetRotation"}; }
  absl::Status Check() override { return Need(env_->endpoints.catalog, "catalog service"); }
  void StartOp(const OpContext& ctx, Done done) override {
    cv1::GetRotationRequest request;
    request.set_name(RotationName(env_->data, static_cast<int>(Mix(ctx.seq) % env_->data.rotations)));
    // The same identity the gateway forwards for an admin's bearer token, so that the
    // HTTP scenario and this one do the same work behind the gateway.
    Call(env_, ctx, 0, stubs_.For(ctx.slot), &cv1::CatalogService::Stub::PrepareAsyncGetRotation,
         request, Caller::Admin(),
         [done](const grpc::Status& s, cv1::Rotation*) { done(s.ok()); });
  }

 private:
  ScenarioEnv* env_;
  Stubs<cv1::CatalogService> stubs_;
};

class SearchScenario : public Scenario {
 public:
  explicit SearchScenario(ScenarioEnv* env) : env_(env), stubs_(env->endpoints.catalog.get()) {}
  std::string name() const override { return "search_rotations"; }
  std::vector<std::string> methods() const override { return {"SearchRotations"}; }
  absl::Status Check() override { return Need(env_->endpoints.catalog, "catalog service"); }
  void StartOp(const OpContext& ctx, Done done) override {
    Call(env_, ctx, 0, stubs_.For(ctx.slot),
         &cv1::CatalogService::Stub::PrepareAsyncSearchRotations,
         MakeSearch(env_->data, ctx.seq, env_->search_shape),
         Caller::Anonymous(),
         [done](const grpc::Status& s, cv1::SearchRotationsResponse*) { done(s.ok()); });
  }

 private:
  ScenarioEnv* env_;
  Stubs<cv1::CatalogService> stubs_;
};

class HoldReleaseScenario : public Scenario {
 public:
  explicit HoldReleaseScenario(ScenarioEnv* env)
      : env_(env), stubs_(env->endpoints.catalog.get()) {}
  std::string name() const override { return "hold_release"; }
  std::vector<std::string> methods() const override { return {"HoldSeat", "ReleaseSeat"}; }
  absl::Status Check() override { return Need(env_->endpoints.catalog, "catalog service"); }
  bool Writes() const override { return true; }
  void StartOp(const OpContext& ctx, Done done) override {
    const DataSpec& d = env_->data;
    uint64_t h = Mix(ctx.seq + 1000003);
    auto hold = std::make_shared<cv1::HoldSeatRequest>();
    hold->set_session(SessionName(d, EligibleRotation(d, h), static_cast<int>((h >> 32) %
                                                              d.sessions_per_rotation)));
    hold->set_holder(absl::StrCat("applications/", d.prefix, "-hold-",
                                  env_->application_offset, "-", ctx.seq));
    SetFuture(hold->mutable_expire_time(), absl::Minutes(10));
    auto* stub = stubs_.For(ctx.slot);
    ScenarioEnv* env = env_;
    OpContext op = ctx;
    Call(env_, ctx, 0, stub, &cv1::SeatInventoryService::Stub::PrepareAsyncHoldSeat, *hold,
         Caller::Service(), [env, op, stub, hold, done](const grpc::Status& s, cv1::SeatHold*) {
           if (!s.ok()) return done(false);
           cv1::ReleaseSeatRequest release;
           release.set_session(hold->session());
           release.set_holder(hold->holder());
           release.set_reason("WITHDRAWN");
           Call(env, op, 1, stub, &cv1::SeatInventoryService::Stub::PrepareAsyncReleaseSeat,
                release, Caller::Service(),
                [done](const grpc::Status& s2, cv1::ReleaseSeatResponse*) { done(s2.ok()); });
         });
  }

 private:
  ScenarioEnv* env_;
  Stubs<cv1::SeatInventoryService> stubs_;
};

// Submits the run's next (applicant, session) application; `then(ok, name, applicant)`.
void SubmitNext(ScenarioEnv* env, const OpContext& ctx, int method,
                av1::ApplicantService::Stub* stub,
                std::function<void(bool, const std::string&, int)> then) {
  uint64_t n = env->applications_started.fetch_add(1);
  ApplicationTarget t = NthApplication(env->data, n, env->application_offset);
  av1::SubmitApplicationRequest request;
  request.set_applicant(ApplicantName(env->data, t.applicant));
  request.set_session(SessionName(env->data, t.rotation, t.session));
  request.set_statement(
      "I am applying to gain hands-on US clinical experience in this specialty before the "
      "residency match, and my availability covers the whole session.");
  request.set_request_id(absl::StrCat(env->data.prefix, "-", env->application_offset, "-", n));
  int applicant = t.applicant;
  Call(env, ctx, method, stub, &av1::ApplicantService::Stub::PrepareAsyncSubmitApplication,
       request, Caller::Applicant(request.applicant()),
       [env, applicant, then = std::move(then)](const grpc::Status& s, av1::Application* a) {
         if (!s.ok()) return then(false, std::string(), applicant);
         then(true, a->name(), applicant);
       });
}

class SubmitScenario : public Scenario {
 public:
  explicit SubmitScenario(ScenarioEnv* env) : env_(env), stubs_(env->endpoints.applicant.get()) {}
  std::string name() const override { return "submit_application"; }
  std::vector<std::string> methods() const override { return {"SubmitApplication"}; }
  absl::Status Check() override { return Need(env_->endpoints.applicant, "applicant service"); }
  bool Writes() const override { return true; }
  void StartOp(const OpContext& ctx, Done done) override {
    ScenarioEnv* env = env_;
    SubmitNext(env_, ctx, 0, stubs_.For(ctx.slot),
               [env, done](bool ok, const std::string& name, int applicant) {
                 if (ok) env->submitted.Add(name, applicant);
                 done(ok);
               });
  }

 private:
  ScenarioEnv* env_;
  Stubs<av1::ApplicantService> stubs_;
};

class OfferAcceptScenario : public Scenario {
 public:
  explicit OfferAcceptScenario(ScenarioEnv* env)
      : env_(env), stubs_(env->endpoints.applicant.get()) {}
  std::string name() const override { return "offer_accept"; }
  std::vector<std::string> methods() const override {
    return {"SubmitApplication", "OfferApplication", "AcceptOffer"};
  }
  absl::Status Check() override { return Need(env_->endpoints.applicant, "applicant service"); }
  bool Writes() const override { return true; }
  void StartOp(const OpContext& ctx, Done done) override {
    std::string application;
    int applicant = 0;
    if (env_->submitted.Take(&application, &applicant)) {
      OfferThenAccept(ctx, application, applicant, done);
      return;
    }
    // Nothing submitted left: submit one first (counted under SubmitApplication; the pair
    // latency below still covers only offer and accept).
    OfferAcceptScenario* self = this;
    OpContext op = ctx;
    SubmitNext(env_, ctx, 0, stubs_.For(ctx.slot),
               [self, op, done](bool ok, const std::string& name, int who) {
                 if (!ok) return done(false);
                 self->OfferThenAccept(op, name, who, done);
               });
  }

 private:
  void OfferThenAccept(const OpContext& ctx, const std::string& application, int applicant,
                       Done done) {
    av1::OfferApplicationRequest offer;
    offer.set_name(application);
    offer.set_reason("bench offer");
    auto* stub = stubs_.For(ctx.slot);
    ScenarioEnv* env = env_;
    OpContext op = ctx;
    Call(env_, ctx, 1, stub, &av1::ApplicantService::Stub::PrepareAsyncOfferApplication, offer,
         Caller::Admin(),
         [env, op, stub, application, applicant, done](const grpc::Status& s,
                                                       av1::Application*) {
           if (!s.ok()) return done(false);
           av1::AcceptOfferRequest accept;
           accept.set_name(application);
           Call(env, op, 2, stub, &av1::ApplicantService::Stub::PrepareAsyncAcceptOffer, accept,
                Caller::Applicant(ApplicantName(env->data, applicant)),
                [done](const grpc::Status& s2, av1::Application*) { done(s2.ok()); });
         });
  }

  ScenarioEnv* env_;
  Stubs<av1::ApplicantService> stubs_;
};

class RecommendScenario : public Scenario {
 public:
  explicit RecommendScenario(ScenarioEnv* env)
      : env_(env), stubs_(env->endpoints.matching.get()) {}
  std::string name() const override { return "recommend_rotations"; }
  std::vector<std::string> methods() const override { return {"RecommendRotations"}; }
  absl::Status Check() override { return Need(env_->endpoints.matching, "matching service"); }
  void StartOp(const OpContext& ctx, Done done) override {
    mv1::RecommendRotationsRequest request;
    request.set_applicant(
        ApplicantName(env_->data, static_cast<int>(Mix(ctx.seq) % env_->data.applicants)));
    request.set_page_size(10);
    Call(env_, ctx, 0, stubs_.For(ctx.slot),
         &mv1::MatchingService::Stub::PrepareAsyncRecommendRotations, request,
         Caller::Applicant(request.applicant()),
         [done](const grpc::Status& s, mv1::RecommendRotationsResponse*) { done(s.ok()); });
  }

 private:
  ScenarioEnv* env_;
  Stubs<mv1::MatchingService> stubs_;
};

class ListNotificationsScenario : public Scenario {
 public:
  explicit ListNotificationsScenario(ScenarioEnv* env)
      : env_(env), stubs_(env->endpoints.notification.get()) {}
  std::string name() const override { return "list_notifications"; }
  std::vector<std::string> methods() const override { return {"ListNotifications"}; }
  absl::Status Check() override {
    return Need(env_->endpoints.notification, "notification service");
  }
  void StartOp(const OpContext& ctx, Done done) override {
    int inboxes = std::max(1, std::min(env_->data.notified_applicants, env_->data.applicants));
    nv1::ListNotificationsRequest request;
    request.set_parent(ApplicantName(env_->data, static_cast<int>(Mix(ctx.seq) % inboxes)));
    request.set_page_size(20);
    Call(env_, ctx, 0, stubs_.For(ctx.slot),
         &nv1::NotificationService::Stub::PrepareAsyncListNotifications, request,
         Caller::Applicant(request.parent()),
         [done](const grpc::Status& s, nv1::ListNotificationsResponse*) { done(s.ok()); });
  }

 private:
  ScenarioEnv* env_;
  Stubs<nv1::NotificationService> stubs_;
};

// An applicant's visit, one call after another as a client app would make them.
class JourneyScenario : public Scenario {
 public:
  explicit JourneyScenario(ScenarioEnv* env)
      : env_(env),
        catalog_(env->endpoints.catalog.get()),
        applicants_(env->endpoints.applicant.get()),
        matching_(env->endpoints.matching.get()),
        notifications_(env->endpoints.notification.get()) {}
  std::string name() const override { return "journey"; }
  std::vector<std::string> methods() const override {
    return {"SearchRotations", "GetRotation",       "ListSessions",
            "RecommendRotations", "ListNotifications", "SubmitApplication"};
  }
  absl::Status Check() override {
    for (auto* s : {&env_->endpoints.catalog, &env_->endpoints.applicant,
                    &env_->endpoints.matching, &env_->endpoints.notification}) {
      if (*s == nullptr) return Need(*s, "catalog, applicant, matching and notification services");
    }
    return absl::OkStatus();
  }
  bool Writes() const override { return true; }

  void StartOp(const OpContext& ctx, Done done) override {
    auto visit = std::make_shared<Visit>();
    visit->ctx = ctx;
    visit->done = std::move(done);
    visit->applicant = static_cast<int>(Mix(ctx.seq + 77) % env_->data.applicants);
    visit->applies = ctx.seq % 4 == 0;
    Search(visit);
  }

 private:
  struct Visit {
    OpContext ctx;
    Done done;
    int applicant = 0;
    bool applies = false;
    std::string rotation;
  };
  using VisitPtr = std::shared_ptr<Visit>;
  Caller Self(const VisitPtr& v) const {
    return Caller::Applicant(ApplicantName(env_->data, v->applicant));
  }

  void Search(VisitPtr v) {
    Call(env_, v->ctx, 0, catalog_.For(v->ctx.slot),
         &cv1::CatalogService::Stub::PrepareAsyncSearchRotations,
         MakeSearch(env_->data, v->ctx.seq), Self(v),
         [this, v](const grpc::Status& s, cv1::SearchRotationsResponse* r) {
           if (!s.ok()) return v->done(false);
           v->rotation = r->rotations_size() > 0
                             ? r->rotations(0).name()
                             : RotationName(env_->data, EligibleRotation(env_->data, v->ctx.seq));
           Open(v);
         });
  }
  void Open(VisitPtr v) {
    cv1::GetRotationRequest request;
    request.set_name(v->rotation);
    Call(env_, v->ctx, 1, catalog_.For(v->ctx.slot),
         &cv1::CatalogService::Stub::PrepareAsyncGetRotation, request, Self(v),
         [this, v](const grpc::Status& s, cv1::Rotation*) {
           if (!s.ok()) return v->done(false);
           Sessions(v);
         });
  }
  void Sessions(VisitPtr v) {
    cv1::ListSessionsRequest request;
    request.set_parent(v->rotation);
    request.set_open_only(true);
    Call(env_, v->ctx, 2, catalog_.For(v->ctx.slot),
         &cv1::CatalogService::Stub::PrepareAsyncListSessions, request, Self(v),
         [this, v](const grpc::Status& s, cv1::ListSessionsResponse*) {
           if (!s.ok()) return v->done(false);
           Recommend(v);
         });
  }
  void Recommend(VisitPtr v) {
    mv1::RecommendRotationsRequest request;
    request.set_applicant(ApplicantName(env_->data, v->applicant));
    request.set_page_size(10);
    Call(env_, v->ctx, 3, matching_.For(v->ctx.slot),
         &mv1::MatchingService::Stub::PrepareAsyncRecommendRotations, request, Self(v),
         [this, v](const grpc::Status& s, mv1::RecommendRotationsResponse*) {
           if (!s.ok()) return v->done(false);
           Inbox(v);
         });
  }
  void Inbox(VisitPtr v) {
    nv1::ListNotificationsRequest request;
    request.set_parent(ApplicantName(env_->data, v->applicant));
    request.set_page_size(20);
    Call(env_, v->ctx, 4, notifications_.For(v->ctx.slot),
         &nv1::NotificationService::Stub::PrepareAsyncListNotifications, request, Self(v),
         [this, v](const grpc::Status& s, nv1::ListNotificationsResponse*) {
           if (!s.ok()) return v->done(false);
           if (!v->applies) return v->done(true);
           ScenarioEnv* env = env_;
           SubmitNext(env_, v->ctx, 5, applicants_.For(v->ctx.slot),
                      [env, v](bool ok, const std::string& name, int applicant) {
                        if (ok) env->submitted.Add(name, applicant);
                        v->done(ok);
                      });
         });
  }

  ScenarioEnv* env_;
  Stubs<cv1::CatalogService> catalog_;
  Stubs<av1::ApplicantService> applicants_;
  Stubs<mv1::MatchingService> matching_;
  Stubs<nv1::NotificationService> notifications_;
};

}  // namespace

std::vector<std::string> AllScenarioNames() {
  return {"echo",
          "echo_runner",
          "echo_sized",
          "get_rotation",
          "search_rotations",
          "hold_release",
          "submit_application",
          "offer_accept",
          "recommend_rotations",
          "list_notifications",
          "journey",
          "http_get_rotation"};
}

std::unique_ptr<Scenario> MakeScenario(const std::string& name, ScenarioEnv* env,
                                       std::string* error) {
  if (name == "echo") {
    return std::make_unique<EchoScenario>(env, name, env->endpoints.echo,
                                          env->echo_response_bytes);
  }
  if (name == "echo_runner") {
    return std::make_unique<EchoScenario>(env, name, env->endpoints.echo_runner,
                                          env->echo_response_bytes);
  }
  if (name == "echo_sized") {
    return std::make_unique<EchoScenario>(env, name, env->endpoints.echo,
                                          env->echo_sized_bytes);
  }
  if (name == "get_rotation") return std::make_unique<GetRotationScenario>(env);
  if (name == "search_rotations") return std::make_unique<SearchScenario>(env);
  if (name == "hold_release") return std::make_unique<HoldReleaseScenario>(env);
  if (name == "submit_application") return std::make_unique<SubmitScenario>(env);
  if (name == "offer_accept") return std::make_unique<OfferAcceptScenario>(env);
  if (name == "recommend_rotations") return std::make_unique<RecommendScenario>(env);
  if (name == "list_notifications") return std::make_unique<ListNotificationsScenario>(env);
  if (name == "journey") return std::make_unique<JourneyScenario>(env);
  if (name == "http_get_rotation") return MakeHttpGetRotationScenario(env);
  *error = absl::StrCat("unknown scenario '", name, "'");
  return nullptr;
}

}  // namespace clerkship::bench
