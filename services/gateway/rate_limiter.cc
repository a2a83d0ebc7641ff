#include "services/gateway/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "absl/hash/hash.h"

namespace clerkship::gateway {

RateLimiter::RateLimiter(double rate_per_second, double burst, const Clock* clock, size_t max_keys)
    : rate_(rate_per_second),
      burst_(std::max(1.0, burst)),
      clock_(clock),
      max_keys_per_shard_(std::max<size_t>(1, max_keys / kShards)) {}

double RateLimiter::Refilled(const Bucket& b, absl::Time now) const {
  double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.last));
  return std::min(burst_, b.tokens + elapsed * rate_);
}

absl::Duration RateLimiter::Acquire(absl::string_view key) {
  if (rate_ <= 0) return absl::ZeroDuration();
  const absl::Time now = clock_->Now();
  Shard& shard = shards_[absl::Hash<absl::string_view>()(key) % kShards];
  absl::MutexLock lock(&shard.mu);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_keys_per_shard_) {
      absl::erase_if(shard.buckets,
                     [&](const auto& entry) { return Refilled(entry.second, now) >= burst_; });
      // Still full of active clients: forget the lot rather than grow without bound.
      if (shard.buckets.size() >= max_keys_per_shard_) shard.buckets.clear();
    }
    it = shard.buckets.emplace(std::string(key), Bucket{burst_, now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = Refilled(bucket, now);
  bucket.last = now;
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return absl::ZeroDuration();
  }
  return absl::Seconds((1.0 - bucket.tokens) / rate_);
}

}  // namespace clerkship::gateway
