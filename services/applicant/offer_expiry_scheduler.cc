#include "services/applicant/offer_expiry_scheduler.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/logging/log.h"

namespace clerkship::applicant {
namespace {

// Claims a batch with `claim`, runs `work` on each entry concurrently and waits for all.
// Returns {entries claimed, entries for which `work` reported true}. The waiting state is
// shared with the callbacks, which may still be unwinding when the wait ends.
template <typename Claim, typename Work>
absl::StatusOr<std::pair<int, int>> ClaimAndWork(Claim claim, Work work) {
  struct Pending {
    absl::Mutex mu;
    bool claimed ABSL_GUARDED_BY(mu) = false;
    absl::StatusOr<std::vector<std::string>> ids ABSL_GUARDED_BY(mu);
    int remaining ABSL_GUARDED_BY(mu) = 0;
    int succeeded ABSL_GUARDED_BY(mu) = 0;
  };
  auto pending = std::make_shared<Pending>();
  claim([pending](absl::StatusOr<std::vector<std::string>> result) {
    absl::MutexLock lock(&pending->mu);
    pending->ids = std::move(result);
    pending->claimed = true;
  });
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&pending->mu);
    pending->mu.Await(absl::Condition(&pending->claimed));
    if (!pending->ids.ok()) return pending->ids.status();
    ids = *pending->ids;
    pending->remaining = static_cast<int>(ids.size());
  }
  for (const std::string& id : ids) {
    work(id, [pending, id](absl::StatusOr<bool> result) {
      if (!result.ok()) {
        log::Warning("scheduled work failed, will retry after the lease",
                     {{"application", id}, {"error", std::string(result.status().message())}});
      }
      absl::MutexLock lock(&pending->mu);
      if (result.ok() && *result) ++pending->succeeded;
      --pending->remaining;
    });
  }
  absl::MutexLock lock(&pending->mu);
  pending->mu.Await(absl::Condition(
      +[](Pending* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu) { return p->remaining == 0; },
      pending.get()));
  return std::make_pair(static_cast<int>(ids.size()), pending->succeeded);
}

}  // namespace

OfferExpiryScheduler::OfferExpiryScheduler(ApplicantStore* store, ApplicationLifecycle* lifecycle,
                                           Clock* clock, SchedulerOptions options)
    : store_(store), lifecycle_(lifecycle), clock_(clock), options_(options) {}

OfferExpiryScheduler::~OfferExpiryScheduler() { Stop(); }

absl::StatusOr<OfferExpiryScheduler::PassResult> OfferExpiryScheduler::RunOnce() {
  PassResult result;
  absl::Time now = clock_->Now();
  absl::StatusOr<std::pair<int, int>> offers = ClaimAndWork(
      [&](Done<std::vector<std::string>> done) {
        store_->ClaimDueOfferExpiries(now, options_.lease, options_.batch, std::move(done));
      },
      [&](const std::string& id, Done<bool> done) {
        lifecycle_->ExpireOffer(id, std::move(done));
      });
  if (!offers.ok()) return offers.status();
  absl::StatusOr<std::pair<int, int>> releases = ClaimAndWork(
      [&](Done<std::vector<std::string>> done) {
        store_->ClaimDueReleases(now, options_.lease, options_.batch, std::move(done));
      },
      [&](const std::string& id, Done<bool> done) {
        lifecycle_->RetryRelease(id, std::move(done));
      });
  if (!releases.ok()) return releases.status();
  result.claimed = offers->first + releases->first;
  result.offers_expired = offers->second;
  result.releases_retried = releases->second;
  return result;
}

void OfferExpiryScheduler::Start() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] {
    while (true) {
      absl::StatusOr<PassResult> pass = RunOnce();
      if (!pass.ok()) {
        log::Warning("offer expiry pass failed", {{"error", std::string(pass.status().message())}});
      }
      // A full batch means more may be due: go again at once.
      bool busy = pass.ok() && pass->claimed >= options_.batch;
      absl::MutexLock lock(&mu_);
      if (!busy) mu_.AwaitWithTimeout(absl::Condition(&stop_), options_.interval);
      if (stop_) return;
    }
  });
}

void OfferExpiryScheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace clerkship::applicant
