#include "services/matching/algorithm/instance_generator.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/matching/algorithm/lottery.h"

namespace clerkship::matching {
namespace {

// Sessions per rotation in the generated ids; a rotation usually runs a few
// sessions a year.
constexpr int32_t kSessionsPerRotation = 3;

// Independent streams per purpose, so that changing one option (say the
// seat count) leaves the other parts of the instance as they were.
enum Stream : uint64_t {
  kPopularityStream = 1,
  kCapacityStream = 2,
  kRankListStream = 3,
  kQualityStream = 4,
  kRankingStream = 5,
};

SplitMix64 StreamFor(uint64_t seed, Stream stream) {
  return SplitMix64(Mix64(seed ^ Mix64(stream)));
}

int Digits(int64_t n) {
  int digits = 1;
  while (n >= 10) {
    n /= 10;
    ++digits;
  }
  return digits;
}

// Fisher–Yates with our own bounded draws: std::shuffle's output differs
// between standard libraries.
std::vector<int32_t> Permutation(int32_t n, SplitMix64& rng) {
  std::vector<int32_t> order(n);
  for (int32_t i = 0; i < n; ++i) order[i] = i;
  for (int32_t i = n - 1; i > 0; --i) {
    std::swap(order[i], order[rng.Below(static_cast<uint64_t>(i) + 1)]);
  }
  return order;
}

// Weighted draws over items whose weight is 1 / (position + offset) in a
// random order of the items.
class ZipfMandelbrotSampler {
 public:
  ZipfMandelbrotSampler(int32_t n, double offset, SplitMix64& rng)
      : item_at_(Permutation(n, rng)), cumulative_(n) {
    double total = 0;
    for (int32_t j = 0; j < n; ++j) {
      total += 1.0 / (static_cast<double>(j) + offset);
      cumulative_[j] = total;
    }
  }

  int32_t Draw(SplitMix64& rng) const {
    const double target = rng.NextUnit() * cumulative_.back();
    auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), target);
    const size_t j =
        std::min<size_t>(it - cumulative_.begin(), cumulative_.size() - 1);
    return item_at_[j];
  }

 private:
  std::vector<int32_t> item_at_;
  std::vector<double> cumulative_;
};

absl::Status CheckOptions(const GeneratorOptions& o) {
  if (o.applicants < 0 || o.sessions < 0 || o.seats < 0 ||
      o.ranks_per_applicant < 0 || o.session_ranking_limit < 0) {
    return absl::InvalidArgumentError("counts must not be negative");
  }
  if (o.applicants > 0 && o.ranks_per_applicant > 0 && o.sessions == 0) {
    return absl::InvalidArgumentError(
        "applicants need at least one session to rank");
  }
  if (!(o.lottery_fraction >= 0 && o.lottery_fraction <= 1)) {
    return absl::InvalidArgumentError("lottery fraction must be in [0, 1]");
  }
  if (o.popularity_offset < 1) {
    return absl::InvalidArgumentError("popularity offset must be at least 1");
  }
  // Keeps the flat arrays within 32-bit indices.
  const int64_t max_entries =
      static_cast<int64_t>(o.applicants) *
      (o.ranks_per_applicant + o.ranks_per_applicant / 3);
  if (max_entries >= std::numeric_limits<int32_t>::max() ||
      o.seats >= std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError("instance too large");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Instance> GenerateInstance(const GeneratorOptions& options) {
  if (absl::Status status = CheckOptions(options); !status.ok()) {
    return status;
  }
  const int32_t num_applicants = options.applicants;
  const int32_t num_sessions = options.sessions;
  InstanceBuilder builder(options.seed);

  // Seats: one per session when there are enough, the rest spread with a
  // milder skew than popularity, giving capacities from 1 to ~50 at national
  // size as in real programs.
  std::vector<int32_t> capacity(num_sessions, 0);
  if (num_sessions > 0) {
    SplitMix64 rng = StreamFor(options.seed, kCapacityStream);
    const int64_t base = options.seats >= num_sessions ? 1 : 0;
    std::fill(capacity.begin(), capacity.end(), static_cast<int32_t>(base));
    const ZipfMandelbrotSampler seat_sampler(
        num_sessions, static_cast<double>(num_sessions) / 30 + 1, rng);
    for (int64_t i = base * num_sessions; i < options.seats; ++i) {
      ++capacity[seat_sampler.Draw(rng)];
    }
  }
  const int rotation_digits =
      Digits(std::max(0, num_sessions - 1) / kSessionsPerRotation);
  for (int32_t s = 0; s < num_sessions; ++s) {
    builder.AddSession(
        absl::StrFormat("rotations/r%0*d/sessions/s%d", rotation_digits,
                        s / kSessionsPerRotation, s % kSessionsPerRotation),
        capacity[s]);
  }

  // Rank lists: distinct sessions drawn by popularity, in draw order, so
  // sought-after sessions also tend to sit near the top of lists.
  const int applicant_digits = Digits(std::max(0, num_applicants - 1));
  std::vector<std::vector<int32_t>> ranked_by(num_sessions);
  if (num_applicants > 0 && num_sessions > 0) {
    SplitMix64 popularity_rng = StreamFor(options.seed, kPopularityStream);
    const ZipfMandelbrotSampler popularity(
        num_sessions, options.popularity_offset, popularity_rng);
    SplitMix64 rng = StreamFor(options.seed, kRankListStream);
    const int32_t mean = options.ranks_per_applicant;
    const int32_t spread = mean / 3;
    std::vector<int32_t> list;
    std::vector<uint8_t> on_list(num_sessions, 0);
    for (int32_t a = 0; a < num_applicants; ++a) {
      int32_t length = mean - spread +
                       static_cast<int32_t>(
                           rng.Below(static_cast<uint64_t>(2 * spread) + 1));
      length = std::min(std::max(length, mean > 0 ? 1 : 0), num_sessions);
      list.clear();
      // Rejection keeps draws distinct; the cap bounds the work when a small
      // instance asks for nearly every session, after which the remaining
      // places go to unused sessions in index order.
      int64_t attempts = 0;
      const int64_t max_attempts = 32 * static_cast<int64_t>(length) + 64;
      while (static_cast<int32_t>(list.size()) < length &&
             attempts++ < max_attempts) {
        const int32_t s = popularity.Draw(rng);
        if (on_list[s]) continue;
        on_list[s] = 1;
        list.push_back(s);
      }
      for (int32_t s = 0;
           static_cast<int32_t>(list.size()) < length && s < num_sessions;
           ++s) {
        if (on_list[s]) continue;
        on_list[s] = 1;
        list.push_back(s);
      }
      for (int32_t s : list) {
        on_list[s] = 0;
        ranked_by[s].push_back(a);
      }
      builder.AddApplicant(
          absl::StrFormat("applicants/a%0*d", applicant_digits, a), list);
    }
  }

  // Session rankings: programs broadly agree on who is strong (a shared
  // quality score) but weigh it differently (a private noise term half as
  // large). A session ranks its strongest applicants up to the limit.
  std::vector<uint64_t> quality(num_applicants);
  {
    SplitMix64 rng = StreamFor(options.seed, kQualityStream);
    for (uint64_t& q : quality) q = rng.Next() >> 32;
  }
  SplitMix64 rng = StreamFor(options.seed, kRankingStream);
  std::vector<std::pair<uint64_t, int32_t>> scored;
  for (int32_t s = 0; s < num_sessions; ++s) {
    // Draw for every session, lottery or not, so the lottery share does not
    // shift the other sessions' noise.
    const bool lottery = rng.NextUnit() < options.lottery_fraction;
    scored.clear();
    for (int32_t a : ranked_by[s]) {
      scored.emplace_back(quality[a] + (rng.Next() >> 33), a);
    }
    if (lottery) continue;
    const size_t keep =
        std::min<size_t>(scored.size(), options.session_ranking_limit);
    std::partial_sort(scored.begin(), scored.begin() + keep, scored.end(),
                      [](const auto& x, const auto& y) {
                        return x.first != y.first ? x.first > y.first
                                                  : x.second < y.second;
                      });
    std::vector<int32_t> ranking(keep);
    for (size_t k = 0; k < keep; ++k) ranking[k] = scored[k].second;
    builder.SetSessionRanking(s, std::move(ranking));
  }
  return std::move(builder).Build();
}

}  // namespace clerkship::matching
