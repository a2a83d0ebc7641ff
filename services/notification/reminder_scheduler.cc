#include "services/notification/reminder_scheduler.h"

#include "common/logging/log.h"

namespace clerkship::notification {

ReminderScheduler::ReminderScheduler(NotificationStore* store, NotificationComposer* composer,
                                     Clock* clock, ReminderOptions options)
    : store_(store), composer_(composer), clock_(clock), options_(options) {}

ReminderScheduler::~ReminderScheduler() { Stop(); }

void ReminderScheduler::Start() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void ReminderScheduler::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void ReminderScheduler::Loop() {
  while (true) {
    absl::StatusOr<int> claimed = RunOnce();
    if (!claimed.ok()) {
      log::Warning("reminder pass failed", {{"error", std::string(claimed.status().message())}});
    }
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (!claimed.ok() || *claimed < options_.batch_size) {
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.poll_interval);
      if (stopping_) return;
    }
  }
}

absl::StatusOr<int> ReminderScheduler::RunOnce() {
  absl::StatusOr<std::vector<ClaimedReminder>> claimed = Await<std::vector<ClaimedReminder>>(
      [&](Done<std::vector<ClaimedReminder>> done) {
        store_->ClaimDueReminders(clock_->Now(), options_.lease, options_.batch_size,
                                  std::move(done));
      });
  if (!claimed.ok()) return claimed.status();
  for (const ClaimedReminder& r : *claimed) {
    absl::Status s = composer_->FireReminder(r);
    if (!s.ok()) {
      // The claim lapses and the reminder is tried again after the lease.
      log::Warning("reminder not fired yet", {{"reminder", r.member}, {"error", std::string(s.message())}});
    }
  }
  return static_cast<int>(claimed->size());
}

}  // namespace clerkship::notification
