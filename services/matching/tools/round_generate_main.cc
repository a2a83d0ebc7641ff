// clerkship-round-generate: writes a synthetic round export (national scale
// by default) for trying clerkship-round-replay and for benchmarks.

#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/matching/algorithm/instance_generator.h"
#include "services/matching/algorithm/round_json.h"

namespace {

namespace cm = ::clerkship::matching;

constexpr std::string_view kUsage =
    R"(Usage: clerkship-round-generate [flags] > ROUND.json

Writes a reproducible synthetic round export with Zipf-like session
popularity. Defaults are the size of the US residency Match.

  --applicants=N         applicants (52000)
  --sessions=N           sessions (6600)
  --seats=N              seats over all sessions (43000)
  --ranks=N              mean rank-list length per applicant (12)
  --session-ranks=N      most applicants a session ranks (90)
  --lottery-fraction=F   share of sessions without a ranking (0.05)
  --popularity-offset=N  Zipf-Mandelbrot offset, smaller is more skewed (50)
  --seed=N               generator and lottery seed (1)
  --out=FILE             write to FILE instead of standard output
  --compact              write one line
)";

template <typename T>
bool ParseNumber(const std::string& text, T* out) {
  if constexpr (std::is_same_v<T, double>) {
    return absl::SimpleAtod(text, out);
  } else {
    return absl::SimpleAtoi(text, out);
  }
}

}  // namespace

int main(int argc, char** argv) {
  cm::GeneratorOptions options;
  std::string out_path;
  bool compact = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--compact") {
      compact = true;
      continue;
    }
    std::string_view name = arg;
    std::string_view value;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    }
    bool ok = false;
    if (name == "--applicants") {
      ok = ParseNumber(std::string(value), &options.applicants);
    } else if (name == "--sessions") {
      ok = ParseNumber(std::string(value), &options.sessions);
    } else if (name == "--seats") {
      ok = ParseNumber(std::string(value), &options.seats);
    } else if (name == "--ranks") {
      ok = ParseNumber(std::string(value), &options.ranks_per_applicant);
    } else if (name == "--session-ranks") {
      ok = ParseNumber(std::string(value), &options.session_ranking_limit);
    } else if (name == "--lottery-fraction") {
      ok = ParseNumber(std::string(value), &options.lottery_fraction);
    } else if (name == "--popularity-offset") {
      ok = ParseNumber(std::string(value), &options.popularity_offset);
    } else if (name == "--seed") {
      ok = ParseNumber(std::string(value), &options.seed);
    } else if (name == "--out") {
      out_path = std::string(value);
      ok = !out_path.empty();
    } else {
      std::cerr << "clerkship-round-generate: unknown flag " << arg << "\n\n"
                << kUsage;
      return 1;
    }
    if (!ok) {
      std::cerr << "clerkship-round-generate: bad value for " << name << ": \""
                << value << "\"\n";
      return 1;
    }
  }

  absl::StatusOr<cm::Instance> instance = cm::GenerateInstance(options);
  if (!instance.ok()) {
    std::cerr << "clerkship-round-generate: " << instance.status().message()
              << "\n";
    return 1;
  }
  const std::string json = cm::WriteRoundJson(*instance, compact ? -1 : 2);
  if (out_path.empty()) {
    std::cout << json;
    std::cout.flush();
    if (!std::cout) {
      std::cerr << "clerkship-round-generate: cannot write the round\n";
      return 1;
    }
    return 0;
  }
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  out << json;
  out.close();
  if (!out) {
    std::cerr << "clerkship-round-generate: cannot write " << out_path << "\n";
    return 1;
  }
  return 0;
}
