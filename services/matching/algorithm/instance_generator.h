#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "services/matching/algorithm/instance.h"

namespace clerkship::matching {

// Shape of a synthetic round. The defaults are the size of the US residency
// Match: 52,000 applicants, 6,600 programs, 43,000 positions, about 12 ranks
// per applicant, programs ranking up to about 90 applicants.
struct GeneratorOptions {
  int32_t applicants = 52000;
  int32_t sessions = 6600;
  int64_t seats = 43000;
  // Mean rank-list length; lengths spread over mean ± mean/3.
  int32_t ranks_per_applicant = 12;
  // A session ranks at most this many of the applicants who ranked it (its
  // "interview list"), the strongest first; the rest are unacceptable to it.
  int32_t session_ranking_limit = 90;
  // Share of sessions that submit no ranking and so rank by lottery.
  double lottery_fraction = 0.05;
  // Popularity follows a Zipf–Mandelbrot law: the session with popularity
  // rank j is drawn with weight 1 / (j + popularity_offset). Smaller offsets
  // are more skewed; 50 makes the most popular session ~130 times as sought
  // after as the least at national size.
  int32_t popularity_offset = 50;
  // Seeds the generator and becomes the round's lottery seed.
  uint64_t seed = 1;
};

// Builds a reproducible synthetic round. Only integer arithmetic and IEEE
// division are used (no <random> distributions, no libm), so a seed gives the
// same instance on every platform. Ids are zero-padded
// ("applicants/a00042", "rotations/r0013/sessions/s1") so index order equals
// id order, as BuildInstance would produce. Errors are INVALID_ARGUMENT for
// options out of range.
absl::StatusOr<Instance> GenerateInstance(const GeneratorOptions& options);

}  // namespace clerkship::matching
