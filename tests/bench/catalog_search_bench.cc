// SearchRotations over a 10,000-rotation catalog (about 8,000 published, ~25,000 sessions,
// some full, some closed), through the gRPC stub of an in-process catalog server backed by
// its own redis-server: one page of 20 per iteration, as a client sees it.
//
//   cmake -S . -B build/catalog-release -DCMAKE_BUILD_TYPE=Release
//   cmake --build build/catalog-release -j2 --target catalog_search_bench
//   build/catalog-release/bin/catalog_search_bench --benchmark_repetitions=5 \
//       --benchmark_report_aggregates_only=true
//
// Read the "_min" rows on a shared machine (other tenants only ever add time). redis_us is
// the time Redis spent in scripts per call (INFO commandstats): the freshness check that
// also sweeps lapsed holds; the search itself runs in the catalog's in-process index.
//
// The catalog is generated and loaded through the API once per process (not timed). The
// target is defined in tests/services/catalog/CMakeLists.txt and is not a CTest test.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "tests/services/catalog/generated_catalog.h"
#include "tests/services/catalog/in_process_catalog.h"

namespace clerkship::catalog {
namespace {

constexpr int kRotations = 10000;
constexpr int kSites = 400;

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2027, 3, 1, 15, 0, 0), absl::UTCTimeZone());

std::string Date(int days_from_now) {
  return absl::FormatCivilTime(absl::CivilDay(2027, 3, 1) + days_from_now);
}

// Loaded on first use, stopped (with its redis-server) at the end of main.
std::unique_ptr<InProcessCatalog>& CatalogSlot() {
  static std::unique_ptr<InProcessCatalog> slot;
  return slot;
}

InProcessCatalog& Catalog() {
  static InProcessCatalog* const catalog = [] {
    static ManualClock clock(kNow);  // fixed: the data set does not age during the run
    auto server = InProcessCatalog::Start(&clock);
    if (!server) {
      std::fprintf(stderr, "cannot start the catalog server\n");
      std::abort();
    }
    absl::Time start = absl::Now();
    GeneratedCatalog data = GenerateCatalog(42, kSites, kRotations, absl::CivilDay(2027, 3, 1));
    absl::Status loaded = LoadCatalog(server->channel, data, kNow + absl::Hours(24 * 7), 16);
    if (!loaded.ok()) {
      std::fprintf(stderr, "loading failed: %s\n", loaded.ToString().c_str());
      server.reset();
      std::exit(1);
    }
    size_t sessions = 0;
    for (const auto& r : data.rotations) sessions += r.sessions.size();
    std::fprintf(stderr, "loaded %d rotations, %zu sessions through the API in %.1f s\n",
                 kRotations, sessions, absl::ToDoubleSeconds(absl::Now() - start));
    // CATALOG_BENCH_SAVE=<dir> writes the data set to <dir>/dump.rdb, for looking at a query
    // with redis-cli.
    if (const char* dir = std::getenv("CATALOG_BENCH_SAVE"); dir && *dir) {
      // In the background: a blocking SAVE would stall the health pings of the client.
      server->redis_server->Command({"BGSAVE"});
      for (int i = 0; i < 600; ++i) {
        absl::SleepFor(absl::Milliseconds(100));
        std::string info = server->redis_server->Command({"INFO", "persistence"});
        if (info.find("rdb_bgsave_in_progress:0") != std::string::npos) break;
      }
      std::error_code error;
      std::filesystem::copy_file(server->redis_server->dir() + "/dump.rdb",
                                 std::string(dir) + "/dump.rdb",
                                 std::filesystem::copy_options::overwrite_existing, error);
      std::fprintf(stderr, "saved %s/dump.rdb: %s\n", dir,
                   error ? error.message().c_str() : "ok");
    }
    CatalogSlot() = std::move(server);
    return CatalogSlot().get();
  }();
  return *catalog;
}

// Microseconds Redis spent in EVALSHA so far, and the number of calls (INFO commandstats):
// the script's own cost, without the RPC around it.
std::pair<double, double> ScriptTime() {
  absl::StatusOr<redis::Reply> info = Catalog().redis->CommandSync({"INFO", "commandstats"});
  if (!info.ok()) return {0, 0};
  const std::string& text = info->str;
  size_t at = text.find("cmdstat_evalsha:calls=");
  if (at == std::string::npos) return {0, 0};
  double calls = std::atof(text.c_str() + at + 22);
  size_t usec = text.find("usec=", at);
  return {std::atof(text.c_str() + usec + 5), calls};
}

void RunSearch(benchmark::State& state, const v1::SearchRotationsRequest& request) {
  auto& stub = *Catalog().catalog;
  int64_t results = 0, total = 0;
  auto [usec_before, calls_before] = ScriptTime();
  for (auto _ : state) {
    grpc::ClientContext context;
    v1::SearchRotationsResponse response;
    grpc::Status s = stub.SearchRotations(&context, request, &response);
    if (!s.ok()) {
      state.SkipWithError(s.error_message().c_str());
      return;
    }
    results += response.rotations_size();
    total = response.total_size();
  }
  auto [usec_after, calls_after] = ScriptTime();
  state.counters["page"] = static_cast<double>(results) / static_cast<double>(state.iterations());
  state.counters["matches"] = static_cast<double>(total);
  if (calls_after > calls_before) {
    state.counters["redis_us"] = (usec_after - usec_before) / (calls_after - calls_before);
  }
}

double Min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

v1::SearchRotationsRequest Page20() {
  v1::SearchRotationsRequest r;
  r.set_page_size(20);
  return r;
}

void BM_NoFilterSoonestFirst(benchmark::State& state) { RunSearch(state, Page20()); }

void BM_NoFilterMostSeats(benchmark::State& state) {
  auto r = Page20();
  r.set_order_by("seats_available desc");
  RunSearch(state, r);
}

void BM_Specialty(benchmark::State& state) {
  auto r = Page20();
  r.set_specialty(type::v1::INTERNAL_MEDICINE);
  RunSearch(state, r);
}

void BM_StateHandsOnLor(benchmark::State& state) {
  auto r = Page20();
  r.set_us_state("NY");
  r.set_hands_on(true);
  r.set_lor_offered(true);
  RunSearch(state, r);
}

void BM_TypeVisaHasSeatsByFee(benchmark::State& state) {
  auto r = Page20();
  r.set_experience_type(type::v1::CLINICAL_ROTATION);
  r.set_visa(type::v1::J1);
  r.set_has_seats(true);
  r.set_order_by("total_fee");
  RunSearch(state, r);
}

void BM_MaxFeeOnlyByFee(benchmark::State& state) {
  auto r = Page20();
  r.set_max_total_fee_cents(300000);
  r.set_order_by("total_fee");
  RunSearch(state, r);
}

void BM_MaxFeeHandsOnSoonestFirst(benchmark::State& state) {
  auto r = Page20();
  r.set_max_total_fee_cents(300000);
  r.set_hands_on(true);
  RunSearch(state, r);
}

void BM_ThreeMonthWindowWithSeats(benchmark::State& state) {
  auto r = Page20();
  r.set_start_from(Date(30));
  r.set_start_to(Date(120));
  r.set_has_seats(true);
  RunSearch(state, r);
}

void BM_WindowSpecialtyCityByFee(benchmark::State& state) {
  auto r = Page20();
  r.set_start_from(Date(0));
  r.set_start_to(Date(180));
  r.set_specialty(type::v1::FAMILY_MEDICINE);
  r.set_city("springfield");
  r.set_order_by("total_fee");
  RunSearch(state, r);
}

void BM_FullYearWindowEveryFilterKind(benchmark::State& state) {
  auto r = Page20();
  r.set_start_from(Date(0));
  r.set_start_to(Date(365));
  r.set_setting(type::v1::INPATIENT);
  r.set_hands_on(true);
  r.set_visa(type::v1::H1B);
  r.set_max_total_fee_cents(500000);
  r.set_has_seats(true);
  r.set_order_by("seats_available desc");
  RunSearch(state, r);
}

// The tenth page of an unfiltered search, from its page token.
void BM_TenthPageNoFilter(benchmark::State& state) {
  auto r = Page20();
  auto& stub = *Catalog().catalog;
  for (int page = 1; page < 10; ++page) {
    grpc::ClientContext context;
    v1::SearchRotationsResponse response;
    if (!stub.SearchRotations(&context, r, &response).ok()) {
      state.SkipWithError("could not page to the tenth page");
      return;
    }
    r.set_page_token(response.next_page_token());
  }
  RunSearch(state, r);
}

// For scale: the cheapest RPC the service has (one GET), through the same stub.
void BM_GetRotationBaseline(benchmark::State& state) {
  auto& stub = *Catalog().catalog;
  v1::GetRotationRequest request;
  request.set_name("rotations/rot-00002");
  for (auto _ : state) {
    grpc::ClientContext context;
    v1::Rotation response;
    grpc::Status s = stub.GetRotation(&context, request, &response);
    if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
      state.SkipWithError(s.error_message().c_str());
      return;
    }
  }
}

BENCHMARK(BM_GetRotationBaseline)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);
BENCHMARK(BM_NoFilterSoonestFirst)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);
BENCHMARK(BM_NoFilterMostSeats)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);
BENCHMARK(BM_TenthPageNoFilter)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);
BENCHMARK(BM_Specialty)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);
BENCHMARK(BM_StateHandsOnLor)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);
BENCHMARK(BM_TypeVisaHasSeatsByFee)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);
BENCHMARK(BM_MaxFeeOnlyByFee)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);
BENCHMARK(BM_MaxFeeHandsOnSoonestFirst)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);
BENCHMARK(BM_ThreeMonthWindowWithSeats)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);
BENCHMARK(BM_WindowSpecialtyCityByFee)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);
BENCHMARK(BM_FullYearWindowEveryFilterKind)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->ComputeStatistics("min", Min);

}  // namespace
}  // namespace clerkship::catalog

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  clerkship::catalog::CatalogSlot().reset();
  return 0;
}
