// National-scale placement round (US residency Match size: 52,000
// applicants, 6,600 sessions, 43,000 seats, ~12 ranks per applicant,
// sessions ranking up to 90): the matching and its verification are timed
// separately, plus the pieces around them.
//
//   cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release
//   cmake --build build-release --target matching_bench
//   build-release/tests/bench/matching_bench --benchmark_repetitions=10 \
//       --benchmark_report_aggregates_only=true
//
// On a shared machine read the "_min" rows: other tenants only ever add
// time, so the fastest repetition is the best estimate of the code's cost.

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "services/matching/algorithm/deferred_acceptance.h"
#include "services/matching/algorithm/instance_generator.h"
#include "services/matching/algorithm/placement_round.h"
#include "services/matching/algorithm/round_json.h"
#include "services/matching/algorithm/round_stats.h"
#include "services/matching/algorithm/session_preferences.h"
#include "services/matching/algorithm/verify.h"

namespace clerkship::matching {
namespace {

double Min(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

// Generated once per process; the generator is not what is being measured.
const Instance& NationalRound() {
  static const Instance* const instance = [] {
    absl::StatusOr<Instance> generated = GenerateInstance(GeneratorOptions{});
    if (!generated.ok()) std::abort();
    return new Instance(*std::move(generated));
  }();
  return *instance;
}

const Matching& NationalMatching() {
  static const Matching* const matching =
      new Matching(RunDeferredAcceptance(NationalRound()));
  return *matching;
}

void ReportShape(benchmark::State& state, const Instance& instance) {
  state.counters["applicants"] = instance.num_applicants();
  state.counters["sessions"] = instance.num_sessions();
  state.counters["seats"] = static_cast<double>(instance.TotalSeats());
  state.counters["rank_entries"] =
      static_cast<double>(instance.rank_lists.size());
}

// Deferred acceptance including everything it needs from the raw instance:
// drawing the lotteries, the session-rank lookup table, the proposals.
void BM_NationalMatching(benchmark::State& state) {
  const Instance& instance = NationalRound();
  for (auto _ : state) {
    Matching matching = RunDeferredAcceptance(instance);
    benchmark::DoNotOptimize(matching.session_of_applicant.data());
  }
  ReportShape(state, instance);
  int32_t matched = 0;
  for (int32_t s : NationalMatching().session_of_applicant) {
    matched += s != kUnmatched;
  }
  state.counters["matched"] = matched;
}
BENCHMARK(BM_NationalMatching)
    ->Unit(benchmark::kMillisecond)
    ->ComputeStatistics("min", Min);

// The stability check on its own, rebuilding its own view of the session
// preferences (lotteries included) as an independent auditor would.
void BM_NationalVerify(benchmark::State& state) {
  const Instance& instance = NationalRound();
  const Matching& matching = NationalMatching();
  bool stable = false;
  for (auto _ : state) {
    Verdict verdict = VerifyMatching(instance, matching);
    stable = verdict.stable();
    benchmark::DoNotOptimize(verdict);
  }
  if (!stable) state.SkipWithError("national matching is not stable");
  ReportShape(state, instance);
}
BENCHMARK(BM_NationalVerify)
    ->Unit(benchmark::kMillisecond)
    ->ComputeStatistics("min", Min);

// Drawing every session's effective preference order (lotteries).
void BM_NationalSessionPreferences(benchmark::State& state) {
  const Instance& instance = NationalRound();
  for (auto _ : state) {
    SessionPreferences prefs(instance);
    size_t size = prefs.total_size();
    benchmark::DoNotOptimize(size);
  }
}
BENCHMARK(BM_NationalSessionPreferences)
    ->Unit(benchmark::kMillisecond)
    ->ComputeStatistics("min", Min);

void BM_NationalStats(benchmark::State& state) {
  const Instance& instance = NationalRound();
  const Matching& matching = NationalMatching();
  for (auto _ : state) {
    RoundStats stats = ComputeRoundStats(instance, matching);
    benchmark::DoNotOptimize(stats.matched);
  }
}
BENCHMARK(BM_NationalStats)
    ->Unit(benchmark::kMillisecond)
    ->ComputeStatistics("min", Min);

// What RunRound calls: lotteries drawn once, matching, verification, stats.
void BM_NationalRunPlacementRound(benchmark::State& state) {
  const Instance& instance = NationalRound();
  double fill_rate = 0;
  for (auto _ : state) {
    RoundOutcome outcome = RunPlacementRound(instance);
    fill_rate = outcome.stats.fill_rate;
    benchmark::DoNotOptimize(outcome.matching.session_of_applicant.data());
  }
  state.counters["fill_rate"] = fill_rate;
}
BENCHMARK(BM_NationalRunPlacementRound)
    ->Unit(benchmark::kMillisecond)
    ->ComputeStatistics("min", Min);

// The audit path around the algorithm: reading and writing the export.
void BM_NationalRoundJsonParse(benchmark::State& state) {
  const std::string json = WriteRoundJson(NationalRound(), -1);
  for (auto _ : state) {
    absl::StatusOr<Instance> instance = ParseRoundJson(json);
    if (!instance.ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(instance);
  }
  state.counters["bytes"] = static_cast<double>(json.size());
}
BENCHMARK(BM_NationalRoundJsonParse)
    ->Unit(benchmark::kMillisecond)
    ->ComputeStatistics("min", Min);

void BM_NationalResultJsonWrite(benchmark::State& state) {
  const Instance& instance = NationalRound();
  const RoundOutcome outcome = RunPlacementRound(instance);
  for (auto _ : state) {
    std::string json = WriteRoundOutcomeJson(instance, outcome, -1);
    benchmark::DoNotOptimize(json.data());
  }
}
BENCHMARK(BM_NationalResultJsonWrite)
    ->Unit(benchmark::kMillisecond)
    ->ComputeStatistics("min", Min);

}  // namespace
}  // namespace clerkship::matching

BENCHMARK_MAIN();
