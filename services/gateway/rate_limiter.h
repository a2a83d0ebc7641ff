#pragma once

// Token buckets per client key (the token subject, else the client IP). A bucket holds up to
// `burst` tokens and refills at `rate_per_second`; each request takes one. Idle buckets (full
// again) are dropped when a shard grows past its share of max_keys, so memory stays bounded
// however many clients come and go.

#include <array>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/util/clock.h"

namespace clerkship::gateway {

class RateLimiter {
 public:
  // rate_per_second <= 0 disables limiting.
  RateLimiter(double rate_per_second, double burst, const Clock* clock, size_t max_keys = 100000);

  // Zero when the request may go ahead; otherwise how long until a token is available.
  absl::Duration Acquire(absl::string_view key);

  bool enabled() const { return rate_ > 0; }

 private:
  struct Bucket {
    double tokens;
    absl::Time last;
  };
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, Bucket> buckets ABSL_GUARDED_BY(mu);
  };
  static constexpr size_t kShards = 16;

  double Refilled(const Bucket& b, absl::Time now) const;

  const double rate_;
  const double burst_;
  const Clock* clock_;
  const size_t max_keys_per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace clerkship::gateway
