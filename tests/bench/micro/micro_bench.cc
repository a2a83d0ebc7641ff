// Microbenchmarks of the per-request work that is not I/O: what the gateway does to every
// request (route matching, JSON ⇄ proto, token verification) and what the services compute
// per candidate (eligibility, recommendation scores). Figures are per call.

#include <benchmark/benchmark.h>
#include <google/protobuf/util/json_util.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "clerkship/applicant/v1/applicant.pb.h"
#include "clerkship/catalog/v1/catalog.pb.h"
#include "common/eligibility/eligibility.h"
#include "common/util/clock.h"
#include "services/gateway/fronted_services.h"
#include "services/gateway/jwt.h"
#include "services/gateway/route_table.h"
#include "services/gateway/transcoder.h"
#include "services/matching/recommender.h"

namespace {

using clerkship::applicant::v1::Applicant;
using clerkship::catalog::v1::Rotation;
using clerkship::catalog::v1::Session;
using namespace clerkship::gateway;  // NOLINT: benchmark-local brevity

constexpr char kRotationJson[] = R"({
  "site": "sites/mercy", "title": "Inpatient Internal Medicine Clerkship",
  "description": "Four weeks on the medicine wards with daily rounds.",
  "specialty": "INTERNAL_MEDICINE", "experienceType": "CLINICAL_ROTATION",
  "setting": "INPATIENT",
  "handsOn": {"patientContact": true, "emrAccess": true, "noteWriting": true,
              "studentsPerPreceptor": 2},
  "durationWeeks": 4,
  "fees": {"programFeeCents": "250000", "applicationFeeCents": "10000",
           "backgroundCheckCents": "5000", "housingEstimateCents": "80000"},
  "refundPolicy": "FULL_REFUND_30_DAYS", "lorOffered": true,
  "eligibility": {"step1PassRequired": true, "ecfmgRequired": true,
                  "acceptedVisaStatuses": ["J1", "B1_B2", "H1B"], "maxYearsSinceGraduation": 5},
  "requiredDocuments": ["CV", "PASSPORT"], "verifiedDocumentsRequired": true,
  "supervisingPhysician": "Dr. Maria Lopez"})";

const RouteTable& Table() {
  static const RouteTable* table =
      RouteTable::Build(FrontedServices({"clerkship.catalog.v1.CatalogService"}))->release();
  return *table;
}

const Route& RouteLabelled(const std::string& label) {
  for (const auto& r : Table().routes()) {
    if (r->label == label) return *r;
  }
  std::abort();
}

Rotation ParsedRotation() {
  Rotation rotation;
  if (!ParseJsonBody(kRotationJson, &rotation, "rotation").ok()) std::abort();
  rotation.set_name("rotations/im");
  rotation.set_state(Rotation::PUBLISHED);
  return rotation;
}

void BM_JsonToProto_Rotation(benchmark::State& state) {
  for (auto _ : state) {
    Rotation rotation;
    benchmark::DoNotOptimize(ParseJsonBody(kRotationJson, &rotation, "rotation"));
  }
}
BENCHMARK(BM_JsonToProto_Rotation);

// protobuf's parser alone: the difference to the above is the gateway's own work (the
// duplicate-key and number-range pass, error mapping).
void BM_JsonToProto_Rotation_ProtobufOnly(benchmark::State& state) {
  google::protobuf::util::JsonParseOptions options;
  for (auto _ : state) {
    Rotation rotation;
    benchmark::DoNotOptimize(
        google::protobuf::util::JsonStringToMessage(kRotationJson, &rotation, options));
  }
}
BENCHMARK(BM_JsonToProto_Rotation_ProtobufOnly);

void BM_ProtoToJson_Rotation(benchmark::State& state) {
  const Route& get = RouteLabelled("GET /v1/{name=rotations/*}");
  Rotation rotation = ParsedRotation();
  // The same bytes as protobuf's printer, or the comparison below is meaningless.
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string expected;
  (void)google::protobuf::util::MessageToJsonString(rotation, &expected, options);
  if (ResponseToJson(get, rotation, true).value_or("") != expected) {
    state.SkipWithError("output differs from MessageToJsonString");
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(ResponseToJson(get, rotation, /*emit_defaults=*/true));
  }
}
BENCHMARK(BM_ProtoToJson_Rotation);

// What ResponseToJson cost before it printed by reflection: protobuf's converter (wire
// format, TypeResolver, default-filling tree) with the same options and the same output.
void BM_ProtoToJson_Rotation_Protobuf(benchmark::State& state) {
  Rotation rotation = ParsedRotation();
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  for (auto _ : state) {
    std::string out;
    benchmark::DoNotOptimize(google::protobuf::util::MessageToJsonString(rotation, &out, options));
  }
}
BENCHMARK(BM_ProtoToJson_Rotation_Protobuf);

// Without emit_defaults (only the fields that are set), both printers.
void BM_ProtoToJson_Rotation_Lean(benchmark::State& state) {
  const Route& get = RouteLabelled("GET /v1/{name=rotations/*}");
  Rotation rotation = ParsedRotation();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ResponseToJson(get, rotation, /*emit_defaults=*/false));
  }
}
BENCHMARK(BM_ProtoToJson_Rotation_Lean);

void BM_ProtoToJson_Rotation_Lean_Protobuf(benchmark::State& state) {
  Rotation rotation = ParsedRotation();
  google::protobuf::util::JsonPrintOptions options;
  for (auto _ : state) {
    std::string out;
    benchmark::DoNotOptimize(google::protobuf::util::MessageToJsonString(rotation, &out, options));
  }
}
BENCHMARK(BM_ProtoToJson_Rotation_Lean_Protobuf);

// One concrete request path per route (variables filled in), matched in turn: the cost of
// routing an average request over the full table.
void BM_RouteMatch_AllRoutes(benchmark::State& state) {
  std::vector<std::pair<std::string, std::string>> requests;
  for (const auto& route : Table().routes()) {
    std::string path = route->label.substr(route->label.find(' ') + 1);
    // "/v1/{name=rotations/*}/sessions" → "/v1/rotations/x1/sessions".
    std::string concrete;
    for (size_t i = 0; i < path.size(); ++i) {
      if (path[i] == '{') {
        size_t eq = path.find('=', i), close = path.find('}', i);
        std::string pattern = eq < close ? path.substr(eq + 1, close - eq - 1) : "*";
        for (char c : pattern) concrete += c == '*' ? std::string("x1") : std::string(1, c);
        i = close;
      } else {
        concrete += path[i];
      }
    }
    requests.emplace_back(route->http_method, concrete);
  }
  size_t found = 0;
  for (auto _ : state) {
    for (const auto& [method, path] : requests) {
      RouteMatch m = Table().Match(method, path);
      found += m.outcome == RouteMatch::Outcome::kFound;
    }
  }
  if (found != requests.size() * state.iterations()) state.SkipWithError("a path did not match");
  state.SetItemsProcessed(state.iterations() * requests.size());
  state.counters["routes"] = requests.size();
}
BENCHMARK(BM_RouteMatch_AllRoutes);

struct JwtFixture {
  clerkship::ManualClock clock{absl::FromUnixSeconds(1800000000)};
  std::unique_ptr<JwtVerifier> verifier;
  std::vector<std::string> tokens;
  explicit JwtFixture(size_t cache_capacity, int token_count) {
    JwtVerifierOptions options;
    options.secret = "bench-secret-0123456789abcdef0123456789";
    options.cache_capacity = cache_capacity;
    verifier = *JwtVerifier::Create(options, &clock);
    JwtSigningKey key;
    key.secret = options.secret;
    for (int i = 0; i < token_count; ++i) {
      tokens.push_back(*SignJwt(key, TokenClaimsJson(absl::StrCat("applicants/a", i), "applicant",
                                                     "", "", "", clock.Now(), absl::Hours(1))));
    }
  }
};

void BM_JwtVerify_CacheHit(benchmark::State& state) {
  JwtFixture f(/*cache_capacity=*/10000, /*token_count=*/1);
  for (auto _ : state) benchmark::DoNotOptimize(f.verifier->Verify(f.tokens[0]));
}
BENCHMARK(BM_JwtVerify_CacheHit);

void BM_JwtVerify_CacheMiss(benchmark::State& state) {
  JwtFixture f(/*cache_capacity=*/0, /*token_count=*/64);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.verifier->Verify(f.tokens[i++ % f.tokens.size()]));
  }
}
BENCHMARK(BM_JwtVerify_CacheMiss);

Applicant BenchApplicant() {
  Applicant a;
  a.set_name("applicants/ana");
  a.set_training_stage(clerkship::type::v1::GRADUATE);
  a.set_graduation_year(2024);
  a.set_step1_status(clerkship::type::v1::STEP1_PASSED);
  a.set_step2ck_score(247);
  a.set_ecfmg_certified(true);
  a.set_visa_status(clerkship::type::v1::J1);
  a.add_specialty_interests(clerkship::type::v1::INTERNAL_MEDICINE);
  a.add_specialty_interests(clerkship::type::v1::CARDIOLOGY);
  a.add_preferred_states("NY");
  auto* range = a.add_availability();
  range->set_start_date("2027-01-01");
  range->set_end_date("2027-12-31");
  a.set_budget_cents(500000);
  a.set_prefers_hands_on(true);
  a.set_time_zone("America/Sao_Paulo");
  return a;
}

Session BenchSession() {
  Session s;
  s.set_name("rotations/im/sessions/s1");
  s.set_start_date("2027-03-01");
  s.set_end_date("2027-03-29");
  s.set_application_deadline("2027-02-01");
  s.set_capacity(4);
  s.set_seats_available(2);
  return s;
}

// Eligibility of `applicant` for the bench session; reports how many reasons it gave.
void RunEligibility(benchmark::State& state, const Applicant& applicant) {
  Rotation rotation = ParsedRotation();
  Session session = BenchSession();
  clerkship::eligibility::EligibilityInput input;
  input.rotation = &rotation;
  input.session = &session;
  input.applicant = &applicant;
  input.today = absl::CivilDay(2026, 11, 25);
  size_t reasons = 0;
  for (auto _ : state) {
    auto result = clerkship::eligibility::CheckEligibility(input);
    reasons = result.size();
    benchmark::DoNotOptimize(result);
  }
  state.counters["reasons"] = reasons;
}

void BM_Eligibility(benchmark::State& state) { RunEligibility(state, BenchApplicant()); }
BENCHMARK(BM_Eligibility);

// Not eligible for several reasons: each one is explained in words (string building).
void BM_Eligibility_NotEligible(benchmark::State& state) {
  Applicant applicant = BenchApplicant();
  applicant.set_step1_status(clerkship::type::v1::STEP1_NOT_TAKEN);
  applicant.set_ecfmg_certified(false);
  applicant.set_graduation_year(2010);
  applicant.set_visa_status(clerkship::type::v1::F1);
  RunEligibility(state, applicant);
}
BENCHMARK(BM_Eligibility_NotEligible);

void BM_RecommendationScore(benchmark::State& state) {
  Rotation rotation = ParsedRotation();
  Applicant applicant = BenchApplicant();
  Session session = BenchSession();
  double score = 0;
  for (auto _ : state) {
    auto parts = clerkship::matching::ScoreSession(applicant, rotation, session);
    score = parts.total();
    benchmark::DoNotOptimize(parts);
  }
  state.counters["score"] = score;  // a non-zero score: the parts were all computed
}
BENCHMARK(BM_RecommendationScore);

void BM_RecommendationScoreAndReasons(benchmark::State& state) {
  Rotation rotation = ParsedRotation();
  Applicant applicant = BenchApplicant();
  Session session = BenchSession();
  for (auto _ : state) {
    auto parts = clerkship::matching::ScoreSession(applicant, rotation, session);
    benchmark::DoNotOptimize(
        clerkship::matching::ExplainSession(applicant, rotation, session, parts));
  }
}
BENCHMARK(BM_RecommendationScoreAndReasons);

}  // namespace

BENCHMARK_MAIN();
