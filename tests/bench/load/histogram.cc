#include "tests/bench/load/histogram.h"

#include <algorithm>
#include <cmath>

namespace clerkship::bench {

Histogram::Histogram() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
}

// Values below 2^kSubBits get one bucket each; above, each power of two [2^e, 2^(e+1)) is
// cut into kSubBuckets equal parts.
int Histogram::BucketOf(uint64_t v) {
  if (v < static_cast<uint64_t>(kSubBuckets)) return static_cast<int>(v);
  int exponent = 63 - __builtin_clzll(v);
  if (exponent > kMaxExponent) return kBuckets - 1;
  int sub = static_cast<int>((v >> (exponent - kSubBits)) & (kSubBuckets - 1));
  return (exponent - kSubBits + 1) * kSubBuckets + sub;
}

uint64_t Histogram::UpperBoundOf(int bucket) {
  if (bucket < kSubBuckets) return static_cast<uint64_t>(bucket);
  int exponent = bucket / kSubBuckets + kSubBits - 1;
  uint64_t sub = static_cast<uint64_t>(bucket % kSubBuckets);
  uint64_t width = uint64_t{1} << (exponent - kSubBits);
  return (uint64_t{1} << exponent) + (sub + 1) * width - 1;
}

void Histogram::Record(absl::Duration latency) {
  RecordNanos(absl::ToInt64Nanoseconds(latency));
}

void Histogram::RecordNanos(int64_t nanos) {
  if (nanos < 0) nanos = 0;
  counts_[BucketOf(static_cast<uint64_t>(nanos))].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(nanos, std::memory_order_relaxed);
  int64_t seen = max_.load(std::memory_order_relaxed);
  while (nanos > seen &&
         !max_.compare_exchange_weak(seen, nanos, std::memory_order_relaxed)) {
  }
}

void Histogram::Merge(const Histogram& other) {
  for (int i = 0; i < kBuckets; ++i) {
    uint64_t n = other.counts_[i].load(std::memory_order_relaxed);
    if (n != 0) counts_[i].fetch_add(n, std::memory_order_relaxed);
  }
  count_.fetch_add(other.count(), std::memory_order_relaxed);
  sum_.fetch_add(other.sum_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  int64_t theirs = other.max_nanos();
  int64_t seen = max_.load(std::memory_order_relaxed);
  while (theirs > seen &&
         !max_.compare_exchange_weak(seen, theirs, std::memory_order_relaxed)) {
  }
}

double Histogram::mean_nanos() const {
  uint64_t n = count();
  return n == 0 ? 0.0 : static_cast<double>(sum_.load(std::memory_order_relaxed)) / n;
}

int64_t Histogram::PercentileNanos(double fraction) const {
  uint64_t n = count();
  if (n == 0) return 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(fraction * static_cast<double>(n)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i].load(std::memory_order_relaxed);
    if (seen >= rank) {
      // Never report more than the largest sample actually seen.
      return std::min<int64_t>(static_cast<int64_t>(UpperBoundOf(i)), max_nanos());
    }
  }
  return max_nanos();
}

}  // namespace clerkship::bench
