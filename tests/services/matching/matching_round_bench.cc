// Benchmarks of the matching service against a real Redis (TestRedis):
//
//   BM_NationalRunRound      RunRound end to end at the size of the US
//   residency Match
//                            (52,000 applicants, 6,600 sessions, 43,000 seats,
//                            ~12 ranks per applicant, up to 90 per session; the
//                            algorithm library's generator): close ranking,
//                            load every rank list and ranking from Redis, run
//                            deferred acceptance, verify, store results and
//                            statistics. Counters: load_ms, match_ms (the
//                            algorithm alone), verify_ms, store_ms (results +
//                            commit), matched, stable.
//   BM_Recommend10k          the recommender alone over a 10,000-rotation
//                            catalog, as the service calls it: over the catalog
//                            cache's recommend view, first page, only whether
//                            another page follows; p50/p99 of single requests
//                            in microseconds (p50_us, p99_us).
//   BM_Recommend10kDeepPage  the same for page 500 (offset 5,000).
//   BM_Recommend10kNoPreferences
//                            an applicant with no interests, no budget, no
//                            states: nothing to prune by, so the whole catalog
//                            is scored (the worst case).
//   BM_Recommend10kList      the plain-list form (indexes the list on every
//                            call), with an exact total.
//   BM_RecommendView10k      building the cache's recommend view, which happens
//                            once per catalog change.
//   BM_RecommendRotationsRpc RecommendRotations through gRPC (applicant lookup,
//   application
//                            listing, scoring) over the same catalog; p50/p99
//                            per call.
//
// Build without sanitizers for meaningful figures:
//   cmake -S . -B build/matching-release -DCMAKE_BUILD_TYPE=Release
//   cmake --build build/matching-release -j2 --target matching_round_bench
//   build/matching-release/bin/matching_round_bench
//   (--benchmark_filter=BM_Recommend for the recommendation figures alone)

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "common/logging/log.h"
#include "services/matching/algorithm/instance_generator.h"
#include "services/matching/algorithm/lottery.h"
#include "tests/services/matching/matching_stack.h"

namespace clerkship::matching {
namespace {

using clerkship::testing::TestRedis;

// Destroyed at exit, which stops the redis-server.
TestRedis& Redis() {
  static const std::unique_ptr<TestRedis> server = [] {
    std::unique_ptr<TestRedis> started =
        TestRedis::Start({"--save", "", "--appendonly", "no"});
    if (started == nullptr) std::abort();
    return started;
  }();
  return *server;
}

void Check(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    fprintf(stderr, "%s: %s\n", what, std::string(s.message()).c_str());
    std::abort();
  }
}

// Everything RunRound needs, without a catalog server: the cache is filled
// directly with one rotation per generated rotation id, sessions carrying the
// generated capacities.
struct RoundBench {
  RoundBench() {
    redis::ClientOptions ro = testing::RedisOptionsFor(Redis());
    ro.command_timeout = absl::Seconds(60);
    ro.health_check_interval =
        absl::Milliseconds(500);  // the service's default
    redis = redis::Client::Create(ro);
    if (!redis->WaitHealthy(absl::Seconds(10))) std::abort();
    auto nowhere =
        grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
    catalog = std::make_unique<CatalogClient>(nowhere, absl::Seconds(1));
    applicants = std::make_unique<ApplicantClient>(nowhere, absl::Seconds(1));
    CatalogCacheOptions co;
    co.redis = ro;
    cache = std::make_unique<CatalogCache>(catalog.get(), co);
    store = std::make_unique<RedisRoundStore>(redis.get());
    service = std::make_unique<MatchingServiceImpl>(
        store.get(), cache.get(), catalog.get(), applicants.get(),
        Clock::Real());
    absl::StatusOr<Instance> generated = GenerateInstance(GeneratorOptions{});
    Check(generated.status(), "generate");
    instance = std::move(*generated);
    std::map<std::string, std::shared_ptr<CatalogRotation>> rotations;
    for (int32_t s = 0; s < instance.num_sessions(); ++s) {
      const std::string& id = instance.session_ids[s];
      std::string rotation = id.substr(0, id.find("/sessions/"));
      auto& entry = rotations[rotation];
      if (entry == nullptr) {
        entry = std::make_shared<CatalogRotation>();
        entry->rotation.set_name(rotation);
        entry->rotation.set_state(catalog::v1::Rotation::PUBLISHED);
      }
      catalog::v1::Session& session = entry->sessions.emplace_back();
      session.set_name(id);
      session.set_capacity(instance.session_capacity[s]);
      session.set_seats_available(instance.session_capacity[s]);
    }
    for (auto& [name, entry] : rotations) cache->Upsert(entry);
    cache->MarkReady();
  }

  // Stores the generated inputs as a fresh OPEN round, the way the RPCs would.
  void SeedRound(const std::string& id) {
    v1::Round round;
    round.set_name(absl::StrCat("rounds/", id));
    round.set_display_name("National benchmark");
    for (const std::string& s : instance.session_ids) round.add_sessions(s);
    *round.mutable_rank_deadline() = ToProtoTime(absl::Now() + absl::Hours(1));
    round.set_seed(static_cast<int64_t>(instance.seed & 0x7fffffffffffffffULL));
    round.set_max_ranks_per_applicant(100);
    round.set_state(v1::Round::OPEN);
    absl::Notification created;
    store->CreateRound(round, "", [&](absl::StatusOr<v1::Round> r) {
      Check(r.status(), "create round");
      created.Notify();
    });
    created.WaitForNotification();

    const std::string base = absl::StrCat("mat:round:", id);
    std::vector<std::vector<std::string>> commands;
    std::vector<std::string> hset = {"HSET", base + ":ranklists"};
    for (int32_t a = 0; a < instance.num_applicants(); ++a) {
      std::vector<std::string> list;
      for (int32_t s : instance.RankList(a))
        list.push_back(instance.session_ids[s]);
      if (list.empty()) continue;
      hset.push_back(instance.applicant_ids[a]);
      hset.push_back(absl::StrJoin(list, "\n"));
      if (hset.size() >= 4002) {
        commands.push_back(std::move(hset));
        hset = {"HSET", base + ":ranklists"};
      }
    }
    if (hset.size() > 2) commands.push_back(std::move(hset));
    hset = {"HSET", base + ":rankings"};
    for (int32_t s = 0; s < instance.num_sessions(); ++s) {
      if (!instance.HasRanking(s)) continue;
      std::vector<std::string> ranking;
      for (int32_t a : instance.SessionRanking(s))
        ranking.push_back(instance.applicant_ids[a]);
      if (ranking.empty())
        continue;  // stored empty = no ranking; keep the instance honest
      hset.push_back(instance.session_ids[s]);
      hset.push_back(absl::StrJoin(ranking, "\n"));
      if (hset.size() >= 1002) {
        commands.push_back(std::move(hset));
        hset = {"HSET", base + ":rankings"};
      }
    }
    if (hset.size() > 2) commands.push_back(std::move(hset));
    for (auto& c : commands) {
      auto reply = redis->CommandSync(std::move(c));
      if (!reply.ok() || reply->is_error()) std::abort();
    }
  }

  std::unique_ptr<redis::Client> redis;
  std::unique_ptr<CatalogClient> catalog;
  std::unique_ptr<ApplicantClient> applicants;
  std::unique_ptr<CatalogCache> cache;
  std::unique_ptr<RedisRoundStore> store;
  std::unique_ptr<MatchingServiceImpl> service;
  Instance instance;
};

void BM_NationalRunRound(benchmark::State& state) {
  static RoundBench* const bench = new RoundBench();
  int round = 0;
  v1::Round last;
  RunRoundTimings sum;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string id = absl::StrCat("national-", getpid(), "-", round++);
    bench->SeedRound(id);
    state.ResumeTiming();
    RunRoundTimings t;
    absl::StatusOr<v1::Round> run = bench->service->RunRoundNow(id, "", &t);
    Check(run.status(), "run round");
    sum.load += t.close + t.load + t.capacity + t.build;
    sum.match += t.match;
    sum.verify += t.verify;
    sum.store += t.store;
    last = *run;
  }
  const v1::RoundStats& stats = last.stats();
  state.counters["applicants"] = stats.applicants();
  state.counters["sessions"] = stats.sessions();
  state.counters["seats"] = stats.seats();
  state.counters["matched"] = stats.matched();
  state.counters["stable"] = stats.stable() ? 1 : 0;
  const double n =
      static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  state.counters["load_ms"] = absl::ToDoubleMilliseconds(sum.load) / n;
  state.counters["match_ms"] = absl::ToDoubleMilliseconds(sum.match) / n;
  state.counters["verify_ms"] = absl::ToDoubleMilliseconds(sum.verify) / n;
  state.counters["store_ms"] = absl::ToDoubleMilliseconds(sum.store) / n;
  if (!stats.stable()) state.SkipWithError("national round is not stable");
}
BENCHMARK(BM_NationalRunRound)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->UseRealTime();

// ---------------------------------------------------------------------------------------
// Recommendations over 10,000 rotations.

constexpr int kRotations = 10000;

std::vector<std::shared_ptr<const CatalogRotation>> TenThousandRotations() {
  static const char* const kStates[] = {"NY", "NJ", "IL", "TX", "CA",
                                        "FL", "PA", "OH", "MI", "GA"};
  SplitMix64 rng(2027);
  std::vector<std::shared_ptr<const CatalogRotation>> out;
  for (int i = 0; i < kRotations; ++i) {
    auto entry = std::make_shared<CatalogRotation>();
    catalog::v1::Rotation& r = entry->rotation;
    r.set_name(absl::StrCat("rotations/r", 100000 + i));
    r.set_site(absl::StrCat("sites/s", i % 700));
    r.set_site_display_name(absl::StrCat("Site ", i % 700));
    r.set_city("Springfield");
    r.set_us_state(kStates[rng.Below(10)]);
    r.set_title("Clerkship");
    r.set_specialty(static_cast<type::v1::Specialty>(1 + rng.Below(29)));
    const bool observe = rng.Below(5) == 0;
    r.set_experience_type(observe ? type::v1::OBSERVERSHIP
                                  : type::v1::CLINICAL_ROTATION);
    r.set_setting(type::v1::INPATIENT);
    r.mutable_hands_on()->set_patient_contact(!observe);
    r.mutable_hands_on()->set_note_writing(!observe && rng.Below(2) == 0);
    r.set_duration_weeks(4);
    r.mutable_fees()->set_total_cents(
        100000 + 1000 * static_cast<int64_t>(rng.Below(600)));
    r.set_lor_offered(rng.Below(2) == 0);
    if (rng.Below(10) == 0) r.mutable_eligibility()->set_ecfmg_required(true);
    if (rng.Below(10) == 0) r.mutable_eligibility()->set_step2ck_required(true);
    r.set_state(catalog::v1::Rotation::PUBLISHED);
    entry->site_time_zone = "America/New_York";
    for (int k = 0; k < 3; ++k) {
      catalog::v1::Session& s = entry->sessions.emplace_back();
      s.set_name(absl::StrCat(r.name(), "/sessions/s", k + 1));
      const int month = 2 + static_cast<int>(rng.Below(9));
      s.set_start_date(absl::StrFormat("2027-%02d-01", month));
      s.set_end_date(absl::StrFormat("2027-%02d-28", month));
      s.set_application_deadline(absl::StrFormat("2027-%02d-01", month - 1));
      s.set_capacity(4);
      s.set_seats_available(static_cast<int32_t>(rng.Below(5)));
      s.set_accepting_applications(true);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

applicant::v1::Applicant BenchApplicant() {
  applicant::v1::Applicant a;
  a.set_name("applicants/bench");
  a.set_training_stage(type::v1::GRADUATE);
  a.set_graduation_year(2024);
  a.set_step1_status(type::v1::STEP1_PASSED);
  a.set_visa_status(type::v1::J1);
  for (int s : {1, 2, 3, 8, 16})
    a.add_specialty_interests(static_cast<type::v1::Specialty>(s));
  type::v1::DateRange* free = a.add_availability();
  free->set_start_date("2027-03-01");
  free->set_end_date("2027-08-31");
  a.add_preferred_states("NY");
  a.add_preferred_states("NJ");
  a.set_budget_cents(400000);
  a.set_prefers_hands_on(true);
  a.set_time_zone("America/New_York");
  return a;
}

void ReportLatencies(benchmark::State& state, std::vector<double> micros,
                     bool in_micros = false) {
  std::sort(micros.begin(), micros.end());
  auto at = [&](double q) {
    return micros[std::min(micros.size() - 1,
                           static_cast<size_t>(q * micros.size()))];
  };
  const double scale = in_micros ? 1 : 1e3;
  const char* unit = in_micros ? "_us" : "_ms";
  state.counters[absl::StrCat("p50", unit)] = at(0.50) / scale;
  state.counters[absl::StrCat("p99", unit)] = at(0.99) / scale;
  state.counters[absl::StrCat("max", unit)] = micros.back() / scale;
  state.counters["requests"] = static_cast<double>(micros.size());
}

// The benchmark catalog in a catalog cache (filled directly, never started),
// as the service holds it.
CatalogCache& TenThousandRotationCache() {
  static CatalogCache* const cache = [] {
    static CatalogClient* const nowhere = new CatalogClient(
        grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()),
        absl::Seconds(1));
    CatalogCacheOptions options;
    options.redis.address = "127.0.0.1:1";  // never used: not started
    auto* cache = new CatalogCache(nowhere, options);
    for (auto& r : TenThousandRotations()) cache->Upsert(r);
    cache->MarkReady();
    return cache;
  }();
  return *cache;
}

absl::Time BenchNow() {
  return absl::FromCivil(absl::CivilSecond(2026, 12, 1, 12, 0, 0),
                         absl::UTCTimeZone());
}

// Recommend over the cache's view, as RecommendRotations calls it.
void RunRecommend(benchmark::State& state,
                  const applicant::v1::Applicant& applicant, int offset) {
  CatalogCache& cache = TenThousandRotationCache();
  // Built once per catalog version, as in a running service: not timed here
  // (BM_RecommendView10k times it).
  cache.RecommendView();
  std::vector<double> micros;
  int results = 0;
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    RecommendQuery query;
    query.now = BenchNow();
    query.offset = offset;
    query.exact_total = false;
    std::shared_ptr<const RecommendIndex> view = cache.RecommendView();
    RecommendResult r =
        Recommend(applicant, *view,
                  RecommendationEligibility(applicant, BenchNow()), query);
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    results = static_cast<int>(r.recommendations.size());
    benchmark::DoNotOptimize(r);
  }
  state.counters["results"] = results;
  ReportLatencies(state, std::move(micros), /*in_micros=*/true);
}

void BM_Recommend10k(benchmark::State& state) {
  RunRecommend(state, BenchApplicant(), 0);
}
BENCHMARK(BM_Recommend10k)->Unit(benchmark::kMicrosecond)->Iterations(2000);

void BM_Recommend10kDeepPage(benchmark::State& state) {
  RunRecommend(state, BenchApplicant(), 5000);
}
BENCHMARK(BM_Recommend10kDeepPage)
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(500);

void BM_Recommend10kNoPreferences(benchmark::State& state) {
  applicant::v1::Applicant applicant = BenchApplicant();
  applicant.clear_specialty_interests();
  applicant.clear_availability();
  applicant.clear_preferred_states();
  applicant.set_budget_cents(0);
  RunRecommend(state, applicant, 0);
}
BENCHMARK(BM_Recommend10kNoPreferences)
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(500);

void BM_Recommend10kList(benchmark::State& state) {
  std::shared_ptr<const CatalogCache::Snapshot> catalog =
      TenThousandRotationCache().Rotations();
  const applicant::v1::Applicant applicant = BenchApplicant();
  std::vector<const CatalogRotation*> view;
  for (const auto& r : *catalog) view.push_back(r.get());
  std::vector<double> micros;
  int results = 0;
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    RecommendQuery query;
    query.now = BenchNow();
    RecommendResult r =
        Recommend(applicant, view,
                  RecommendationEligibility(applicant, BenchNow()), query);
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    results = r.total;
    benchmark::DoNotOptimize(r);
  }
  state.counters["candidates"] = results;
  ReportLatencies(state, std::move(micros), /*in_micros=*/true);
}
BENCHMARK(BM_Recommend10kList)->Unit(benchmark::kMicrosecond)->Iterations(200);

void BM_RecommendView10k(benchmark::State& state) {
  CatalogCache& cache = TenThousandRotationCache();
  std::shared_ptr<const CatalogRotation> some =
      cache.FindRotation("rotations/r100000");
  std::vector<double> micros;
  for (auto _ : state) {
    state.PauseTiming();
    cache.Upsert(some);  // a change: the next view is built afresh
    state.ResumeTiming();
    const absl::Time start = absl::Now();
    std::shared_ptr<const RecommendIndex> view = cache.RecommendView();
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    benchmark::DoNotOptimize(view);
  }
  ReportLatencies(state, std::move(micros), /*in_micros=*/true);
}
BENCHMARK(BM_RecommendView10k)->Unit(benchmark::kMicrosecond)->Iterations(100);

void BM_RecommendRotationsRpc(benchmark::State& state) {
  // A matching server in process, its cache filled directly; the applicant API
  // is the in-memory one from the integration tests. No catalog behind it
  // (never called).
  auto nowhere =
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  testing::ApplicantServer applicant_server(nowhere);
  applicant_server.service.AddApplicant(BenchApplicant());
  redis::ClientOptions ro = testing::RedisOptionsFor(Redis());
  auto redis = redis::Client::Create(ro);
  redis->WaitHealthy(absl::Seconds(10));
  CatalogClient catalog(nowhere, absl::Seconds(1));
  ApplicantClient applicants(applicant_server.channel, absl::Seconds(5));
  CatalogCacheOptions co;
  co.redis = ro;
  CatalogCache cache(&catalog, co);
  for (auto& r : TenThousandRotations()) cache.Upsert(r);
  cache.MarkReady();
  RedisRoundStore store(redis.get());
  MatchingServiceImpl service(&store, &cache, &catalog, &applicants,
                              Clock::Real());
  ServerRunner runner(testing::LocalServer("matching"));
  runner.AddService(&service, v1::MatchingService::service_full_name());
  if (!runner.Start().ok()) std::abort();
  auto stub = v1::MatchingService::NewStub(grpc::CreateChannel(
      runner.address(), grpc::InsecureChannelCredentials()));
  clerkship::log::SetMinSeverity(
      clerkship::log::Severity::kWarning);  // no access log lines in the
                                            // figures

  std::vector<double> micros;
  for (auto _ : state) {
    grpc::ClientContext context;
    clerkship::testing::SetIdentity(&context, "applicant", "applicants/bench");
    v1::RecommendRotationsRequest request;
    request.set_applicant("applicants/bench");
    v1::RecommendRotationsResponse response;
    const absl::Time start = absl::Now();
    grpc::Status s = stub->RecommendRotations(&context, request, &response);
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!s.ok() || response.recommendations_size() != 10) {
      state.SkipWithError("RecommendRotations failed");
      break;
    }
  }
  runner.Shutdown();
  if (!micros.empty()) ReportLatencies(state, std::move(micros));
}
BENCHMARK(BM_RecommendRotationsRpc)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(500)
    ->UseRealTime();

}  // namespace
}  // namespace clerkship::matching

BENCHMARK_MAIN();
