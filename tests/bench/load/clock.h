#pragma once

#include <chrono>
#include <cstdint>

namespace clerkship::bench {

// Monotonic nanoseconds; the only clock latencies are measured with.
inline int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace clerkship::bench
