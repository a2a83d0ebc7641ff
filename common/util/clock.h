#pragma once

// Time as a dependency, so that offer expiry, hold expiry and reminders can be tested with
// a clock the test moves.

#include <atomic>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace clerkship {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  static Clock* Real();
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

inline Clock* Clock::Real() {
  static RealClock clock;
  return &clock;
}

// A clock that only moves when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start) : nanos_(absl::ToUnixNanos(start)) {}
  absl::Time Now() const override { return absl::FromUnixNanos(nanos_.load()); }
  void Advance(absl::Duration d) { nanos_ += absl::ToInt64Nanoseconds(d); }
  void Set(absl::Time t) { nanos_ = absl::ToUnixNanos(t); }

 private:
  std::atomic<int64_t> nanos_;
};

}  // namespace clerkship
