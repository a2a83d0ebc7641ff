#include "tests/bench/load/seed.h"

#include <atomic>
#include <functional>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "clerkship/applicant/v1/applicant.grpc.pb.h"
#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "clerkship/notification/v1/notification.grpc.pb.h"

namespace clerkship::bench {
namespace {

namespace av1 = ::clerkship::applicant::v1;
namespace cv1 = ::clerkship::catalog::v1;
namespace nv1 = ::clerkship::notification::v1;

constexpr int kAttempts = 6;

// Failures of one seeding step: counted, and the first one kept for the message.
class Failures {
 public:
  void Add(const std::string& what, const grpc::Status& s) {
    absl::MutexLock lock(&mu_);
    if (count_++ == 0) {
      first_ = absl::StrCat(what, ": ", CodeName(s.error_code()), " ", s.error_message());
    }
  }
  int count() const {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  std::string first() const {
    absl::MutexLock lock(&mu_);
    return first_;
  }

 private:
  mutable absl::Mutex mu_;
  int count_ = 0;
  std::string first_;
};

// A call that is retried while the service is still starting or briefly overloaded.
template <typename Stub, typename Req, typename Resp, typename Then>
void SeedCall(RpcClient* client, int slot, Stub* stub,
              std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> (Stub::*prepare)(
                  grpc::ClientContext*, const Req&, grpc::CompletionQueue*),
              std::shared_ptr<const Req> request, Caller caller, Then then, int attempt = 0) {
  StartUnary<Stub, Req, Resp>(
      stub, prepare, client->cq(slot), *request, caller, client->options().deadline,
      [=](const grpc::Status& s, Resp* response) {
        bool transient = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
        if (transient && attempt + 1 < kAttempts) {
          client->Defer(slot, absl::Milliseconds(200 << attempt), [=] {
            SeedCall<Stub, Req, Resp>(client, slot, stub, prepare, request, caller, then,
                                      attempt + 1);
          });
          return;
        }
        then(s, response);
      });
}

// Runs task(i, slot, next) for i in [0, n), at most `in_flight` at once; each task calls
// next() when it is finished. Blocks until every task is finished, printing progress.
struct ForEachState {
  int n = 0;
  std::function<void(int, int, std::function<void()>)> task;
  std::atomic<int> next{0};
  absl::Mutex mu;
  int finished ABSL_GUARDED_BY(mu) = 0;
  int workers ABSL_GUARDED_BY(mu) = 0;
};

// One worker's next task; the continuation holds the state, so nothing refers to itself and
// the state goes away with the last continuation.
void ForEachStep(const std::shared_ptr<ForEachState>& state, int slot) {
  int i = state->next.fetch_add(1);
  if (i >= state->n) {
    absl::MutexLock lock(&state->mu);
    --state->workers;
    return;
  }
  state->task(i, slot, [state, slot] {
    {
      absl::MutexLock lock(&state->mu);
      ++state->finished;
    }
    ForEachStep(state, slot);
  });
}

void ForEach(int n, int in_flight, const std::string& what, bool quiet,
             std::function<void(int, int, std::function<void()>)> task) {
  if (n == 0) return;
  auto state = std::make_shared<ForEachState>();
  state->n = n;
  state->task = std::move(task);
  in_flight = std::max(1, std::min(in_flight, n));
  {
    absl::MutexLock lock(&state->mu);
    state->workers = in_flight;
  }
  for (int w = 0; w < in_flight; ++w) ForEachStep(state, w);
  absl::Time last = absl::Now();
  absl::MutexLock lock(&state->mu);
  auto all_done = [&state]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
    return state->workers == 0;
  };
  while (!state->mu.AwaitWithTimeout(absl::Condition(&all_done), absl::Seconds(1))) {
    if (!quiet && absl::Now() - last >= absl::Seconds(5)) {
      std::cout << "  " << what << ": " << state->finished << "/" << n << std::endl;
      last = absl::Now();
    }
  }
}

bool CreatedOrExists(const grpc::Status& s) {
  return s.ok() || s.error_code() == grpc::StatusCode::ALREADY_EXISTS;
}

}  // namespace

absl::Status Seed(ScenarioEnv* env, const SeedOptions& options, SeedCounts* counts) {
  RpcClient* client = env->client;
  const DataSpec& d = env->data;
  absl::Time begin = absl::Now();
  auto say = [&](const std::string& text) {
    if (!options.quiet) std::cout << text << std::endl;
  };

  if (env->endpoints.catalog == nullptr) {
    return absl::FailedPreconditionError("seeding needs the catalog service (--catalog_addr)");
  }
  auto catalog = cv1::CatalogService::NewStub(env->endpoints.catalog->channel(0));
  Failures failures;
  std::atomic<int> sites{0}, rotations{0}, sessions{0}, published{0};

  say(absl::StrCat("seeding ", d.sites(), " sites"));
  ForEach(d.sites(), options.in_flight, "sites", options.quiet,
          [&](int i, int slot, std::function<void()> next) {
            auto req = std::make_shared<cv1::CreateSiteRequest>();
            *req->mutable_site() = MakeSite(d, i);
            req->set_site_id(SiteId(d, i));
            SeedCall(client, slot, catalog.get(), &cv1::CatalogService::Stub::PrepareAsyncCreateSite,
                     std::shared_ptr<const cv1::CreateSiteRequest>(req), Caller::Admin(),
                     [&, next](const grpc::Status& s, cv1::Site*) {
                       if (CreatedOrExists(s)) ++sites; else failures.Add("CreateSite", s);
                       next();
                     });
          });

  say(absl::StrCat("seeding ", d.rotations, " rotations with ", d.sessions_per_rotation,
                   " sessions each, published"));
  ForEach(d.rotations, options.in_flight, "rotations", options.quiet,
          [&](int i, int slot, std::function<void()> next) {
            auto create = std::make_shared<cv1::CreateRotationRequest>();
            *create->mutable_rotation() = MakeRotation(d, i);
            create->set_rotation_id(RotationId(d, i));
            // Sessions one after another, then publish.
            auto add_session = std::make_shared<std::function<void(int)>>();
            auto publish = [&, i, slot, next, add_session] {
              auto req = std::make_shared<cv1::PublishRotationRequest>();
              req->set_name(RotationName(d, i));
              SeedCall(client, slot, catalog.get(),
                       &cv1::CatalogService::Stub::PrepareAsyncPublishRotation,
                       std::shared_ptr<const cv1::PublishRotationRequest>(req), Caller::Admin(),
                       [&, next, add_session](const grpc::Status& s, cv1::Rotation*) {
                         if (s.ok()) ++published; else failures.Add("PublishRotation", s);
                         *add_session = nullptr;
                         next();
                       });
            };
            *add_session = [&, i, slot, add_session, publish](int k) {
              if (k == d.sessions_per_rotation) return publish();
              auto req = std::make_shared<cv1::CreateSessionRequest>();
              req->set_parent(RotationName(d, i));
              *req->mutable_session() = MakeSession(d, i, k);
              req->set_session_id(SessionId(k));
              SeedCall(client, slot, catalog.get(),
                       &cv1::CatalogService::Stub::PrepareAsyncCreateSession,
                       std::shared_ptr<const cv1::CreateSessionRequest>(req), Caller::Admin(),
                       [&, add_session, k](const grpc::Status& s, cv1::Session*) {
                         if (CreatedOrExists(s)) ++sessions; else failures.Add("CreateSession", s);
                         (*add_session)(k + 1);
                       });
            };
            SeedCall(client, slot, catalog.get(),
                     &cv1::CatalogService::Stub::PrepareAsyncCreateRotation,
                     std::shared_ptr<const cv1::CreateRotationRequest>(create), Caller::Admin(),
                     [&, next, add_session](const grpc::Status& s, cv1::Rotation*) {
                       if (!CreatedOrExists(s)) {
                         failures.Add("CreateRotation", s);
                         *add_session = nullptr;
                         return next();
                       }
                       ++rotations;
                       (*add_session)(0);
                     });
          });
  counts->sites = sites;
  counts->rotations = rotations;
  counts->sessions = sessions;
  counts->published = published;

  std::atomic<int> applicants{0}, documents{0}, notifications{0};
  if (env->endpoints.applicant == nullptr) {
    say("no applicant service: applicants not seeded");
  } else {
    auto stub = av1::ApplicantService::NewStub(env->endpoints.applicant->channel(0));
    say(absl::StrCat("seeding ", d.applicants, " applicants with ", kDocumentsPerApplicant,
                     " documents each"));
    ForEach(d.applicants, options.in_flight, "applicants", options.quiet,
            [&](int j, int slot, std::function<void()> next) {
              auto create = std::make_shared<av1::CreateApplicantRequest>();
              *create->mutable_applicant() = MakeApplicant(d, j);
              create->set_applicant_id(ApplicantId(d, j));
              auto add_doc = std::make_shared<std::function<void(int)>>();
              *add_doc = [&, j, slot, next, add_doc](int w) {
                auto req = std::make_shared<av1::AddDocumentRequest>();
                req->set_parent(ApplicantName(d, j));
                *req->mutable_document() = MakeDocument(d, j, w);
                req->set_request_id(absl::StrCat(d.prefix, "-doc-", j, "-", w));
                SeedCall(client, slot, stub.get(),
                         &av1::ApplicantService::Stub::PrepareAsyncAddDocument,
                         std::shared_ptr<const av1::AddDocumentRequest>(req), Caller::Admin(),
                         [&, add_doc, next, w](const grpc::Status& s, av1::Document*) {
                           if (s.ok()) ++documents; else failures.Add("AddDocument", s);
                           if (w + 1 < kDocumentsPerApplicant) return (*add_doc)(w + 1);
                           *add_doc = nullptr;  // not running: this is the call's callback
                           next();
                         });
              };
              SeedCall(client, slot, stub.get(),
                       &av1::ApplicantService::Stub::PrepareAsyncCreateApplicant,
                       std::shared_ptr<const av1::CreateApplicantRequest>(create),
                       Caller::Admin(), [&, next, add_doc](const grpc::Status& s, av1::Applicant*) {
                         if (!CreatedOrExists(s)) {
                           failures.Add("CreateApplicant", s);
                           *add_doc = nullptr;
                           return next();
                         }
                         ++applicants;
                         (*add_doc)(0);
                       });
            });
  }

  int notified = std::min(d.notified_applicants, d.applicants);
  if (env->endpoints.notification == nullptr) {
    say("no notification service: inboxes not seeded");
  } else if (notified > 0 && d.notifications_each > 0) {
    auto stub = nv1::NotificationService::NewStub(env->endpoints.notification->channel(0));
    int total = notified * d.notifications_each;
    say(absl::StrCat("seeding ", d.notifications_each, " notifications for each of ", notified,
                     " applicants"));
    ForEach(total, options.in_flight, "notifications", options.quiet,
            [&](int i, int slot, std::function<void()> next) {
              int who = i % notified;
              int nth = i / notified;
              auto req = std::make_shared<nv1::SendNotificationRequest>();
              req->set_recipient(ApplicantName(d, who));
              req->set_type("bench.announcement");
              req->set_title(absl::StrCat("Bench announcement ", nth + 1));
              req->set_body(
                  "New rotations matching your interests were published this week. Open the "
                  "app to see sessions with seats left.");
              req->set_request_id(absl::StrCat(d.prefix, "-ntf-", who, "-", nth));
              SeedCall(client, slot, stub.get(),
                       &nv1::NotificationService::Stub::PrepareAsyncSendNotification,
                       std::shared_ptr<const nv1::SendNotificationRequest>(req),
                       Caller::Service(), [&, next](const grpc::Status& s, nv1::Notification*) {
                         if (s.ok()) ++notifications; else failures.Add("SendNotification", s);
                         next();
                       });
            });
  }
  counts->applicants = applicants;
  counts->documents = documents;
  counts->notifications = notifications;
  counts->seconds = absl::ToDoubleSeconds(absl::Now() - begin);
  if (failures.count() > 0) {
    return absl::InternalError(absl::StrCat(failures.count(), " seeding calls failed; first: ",
                                            failures.first()));
  }
  return absl::OkStatus();
}

}  // namespace clerkship::bench
