#pragma once

#include "absl/synchronization/mutex.h"

namespace clerkship {

// Debian's Abseil is built without NDEBUG, so absl::Mutex tracks every lock in a
// deadlock-detection graph: about 3% of a busy service's CPU (measured on the catalog). Release
// builds turn it off; debug and sanitizer builds (the tests) keep it as a check.
inline void ApplyMutexSettings() {
#ifdef NDEBUG
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif
}

}  // namespace clerkship
