#pragma once

// A latency histogram that many threads record into without locks: log-linear buckets
// (128 per power of two, so any reported percentile is within 0.8% of the true value),
// from 1 ns to about 18 minutes, with the exact maximum and sum kept on the side.

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace clerkship::bench {

class Histogram {
 public:
  Histogram();
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Record(absl::Duration latency);
  void RecordNanos(int64_t nanos);
  // Adds every sample of `other` (not thread-safe against concurrent Record on `other`).
  void Merge(const Histogram& other);

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  int64_t max_nanos() const { return max_.load(std::memory_order_relaxed); }
  double mean_nanos() const;
  // The smallest recorded value v such that `fraction` of the samples are <= v (fraction
  // in [0, 1]); 0 when empty.
  int64_t PercentileNanos(double fraction) const;

 private:
  static constexpr int kSubBits = 7;
  static constexpr int kSubBuckets = 1 << kSubBits;
  static constexpr int kMaxExponent = 40;  // 2^40 ns ~ 18 minutes; larger values are clamped
  static constexpr int kBuckets = (kMaxExponent - kSubBits + 1) * kSubBuckets + kSubBuckets;

  static int BucketOf(uint64_t v);
  static uint64_t UpperBoundOf(int bucket);

  std::array<std::atomic<uint64_t>, kBuckets> counts_;
  std::atomic<uint64_t> count_{0};
  std::atomic<int64_t> max_{0};
  std::atomic<int64_t> sum_{0};
};

}  // namespace clerkship::bench
