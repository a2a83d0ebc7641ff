#include "services/catalog/seat_sweeper.h"

#include <memory>

#include "absl/synchronization/notification.h"
#include "common/logging/log.h"

namespace clerkship::catalog {

SeatSweeper::SeatSweeper(SeatStore* store, Clock* clock, absl::Duration interval, int batch)
    : store_(store), clock_(clock), interval_(interval), batch_(batch) {}

SeatSweeper::~SeatSweeper() { Stop(); }

void SeatSweeper::Start() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Run(); });
}

void SeatSweeper::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int> SeatSweeper::SweepOnce() {
  int total = 0;
  for (;;) {
    // The callback may outlive a timed-out wait, so the result lives in shared state.
    struct Pass {
      absl::Notification done;
      absl::StatusOr<int> result = 0;
    };
    auto pass = std::make_shared<Pass>();
    store_->Sweep(clock_->Now(), batch_, [pass](absl::StatusOr<int> result) {
      pass->result = std::move(result);
      pass->done.Notify();
    });
    if (!pass->done.WaitForNotificationWithTimeout(absl::Seconds(30))) {
      return absl::DeadlineExceededError("sweep did not finish");
    }
    if (!pass->result.ok()) return pass->result.status();
    total += *pass->result;
    if (*pass->result < batch_) return total;
  }
}

void SeatSweeper::Run() {
  bool failing = false;  // log an outage once, not every interval
  for (;;) {
    absl::StatusOr<int> swept = SweepOnce();
    if (!swept.ok()) {
      if (!failing) {
        log::Warning("seat sweep failed", {{"error", std::string(swept.status().message())}});
      }
      failing = true;
    } else {
      failing = false;
      if (*swept > 0) log::Debug("seat sweep", {{"processed", std::to_string(*swept)}});
    }
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stop_), interval_)) return;
  }
}

}  // namespace clerkship::catalog
