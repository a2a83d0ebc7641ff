// clerkship-round-replay: re-runs a placement round offline from its export
// (ExportRound's JSON) and prints the matching, its statistics and the
// stability verdict, so anyone can re-check a published round.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "services/matching/algorithm/instance.h"
#include "services/matching/algorithm/placement_round.h"
#include "services/matching/algorithm/round_json.h"
#include "services/matching/algorithm/verify.h"

namespace {

namespace cm = ::clerkship::matching;

// Exit codes, distinct so scripts can tell a bad file from a bad round.
constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;      // bad flags, unreadable file, write error
constexpr int kExitMalformed = 2;  // the round (or result) document is invalid
constexpr int kExitUnstable = 3;   // the replay failed its own verification
constexpr int kExitMismatch = 4;   // --check: the published result differs

constexpr std::string_view kUsage =
    R"(Usage: clerkship-round-replay [--compact] [--timing] [--check=RESULT.json] [ROUND.json | -]

Reads a round export (from ROUND.json, or standard input when it is omitted
or "-"), runs the placement round (applicant-proposing deferred acceptance
with the round's seeded lotteries), verifies the result and prints it as JSON:
  {"matches": [{"applicant": ..., "session": ...}], "unmatched": [...],
   "stats": {...}, "verdict": {...}}

  --compact             print the result on one line
  --timing              print the time of each phase to standard error
  --check=RESULT.json   also verify a published result document and compare
                        its matches with the replay

Exit status: 0 stable replay (and, with --check, an identical published
result); 1 usage or I/O error; 2 malformed input; 3 replay not stable;
4 published result differs from the replay or is not stable.
)";

struct Flags {
  bool compact = false;
  bool timing = false;
  std::string check_path;
  std::string round_path = "-";
};

bool ParseFlags(int argc, char** argv, Flags* flags, std::string* error) {
  bool have_path = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--compact") {
      flags->compact = true;
    } else if (arg == "--timing") {
      flags->timing = true;
    } else if (arg.substr(0, 8) == "--check=") {
      flags->check_path = std::string(arg.substr(8));
      if (flags->check_path.empty()) {
        *error = "--check needs a file name";
        return false;
      }
    } else if (arg == "--check" && i + 1 < argc) {
      flags->check_path = argv[++i];
    } else if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
      *error = absl::StrCat("unknown flag ", std::string(arg));
      return false;
    } else if (have_path) {
      *error = "more than one round file given";
      return false;
    } else {
      flags->round_path = std::string(arg);
      have_path = true;
    }
  }
  return true;
}

bool ReadAll(const std::string& path, std::string* text, std::string* error) {
  if (path == "-") {
    std::ostringstream buffer;
    buffer << std::cin.rdbuf();
    *text = buffer.str();
    if (std::cin.bad()) {
      *error = "cannot read standard input";
      return false;
    }
    return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = absl::StrCat("cannot open ", path);
    return false;
  }
  text->assign(std::istreambuf_iterator<char>(in),
               std::istreambuf_iterator<char>());
  if (in.bad()) {
    *error = absl::StrCat("cannot read ", path);
    return false;
  }
  return true;
}

double MillisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

// Compares a published result with the replay; returns an exit code.
int CheckPublished(const cm::Instance& instance, const cm::Matching& replay,
                   const std::string& path) {
  std::string text;
  std::string error;
  if (!ReadAll(path, &text, &error)) {
    std::cerr << "clerkship-round-replay: " << error << "\n";
    return kExitUsage;
  }
  absl::StatusOr<cm::Matching> published = cm::ParseMatchesJson(instance, text);
  if (!published.ok()) {
    std::cerr << "clerkship-round-replay: " << path
              << " is not a valid result: " << published.status().message()
              << "\n";
    return kExitMalformed;
  }
  const cm::Verdict verdict = cm::VerifyMatching(instance, *published);
  std::cerr << "published result: " << cm::ViolationName(verdict.violation)
            << ": " << verdict.explanation << "\n";
  for (int32_t a = 0; a < instance.num_applicants(); ++a) {
    const int32_t mine = replay.session_of_applicant[a];
    const int32_t theirs = published->session_of_applicant[a];
    if (mine == theirs) continue;
    auto name = [&](int32_t s) {
      return s == cm::kUnmatched ? std::string("unmatched")
                                 : instance.session_ids[s];
    };
    std::cerr << "published result differs from the replay: "
              << instance.applicant_ids[a] << " is " << name(theirs)
              << " there but " << name(mine) << " in the replay\n";
    return kExitMismatch;
  }
  if (!verdict.stable()) return kExitMismatch;
  std::cerr << "published result is identical to the replay\n";
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  std::string error;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return kExitOk;
    }
  }
  if (!ParseFlags(argc, argv, &flags, &error)) {
    std::cerr << "clerkship-round-replay: " << error << "\n\n" << kUsage;
    return kExitUsage;
  }

  std::string text;
  if (!ReadAll(flags.round_path, &text, &error)) {
    std::cerr << "clerkship-round-replay: " << error << "\n";
    return kExitUsage;
  }
  const std::string source =
      flags.round_path == "-" ? "standard input" : flags.round_path;

  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<cm::Instance> instance = cm::ParseRoundJson(text);
  if (!instance.ok()) {
    std::cerr << "clerkship-round-replay: " << source
              << " is not a valid round export: " << instance.status().message()
              << "\n";
    return kExitMalformed;
  }
  text.clear();
  text.shrink_to_fit();
  const double parse_ms = MillisecondsSince(start);

  start = std::chrono::steady_clock::now();
  const cm::RoundOutcome outcome = cm::RunPlacementRound(*instance);
  const double round_ms = MillisecondsSince(start);

  start = std::chrono::steady_clock::now();
  std::cout << cm::WriteRoundOutcomeJson(*instance, outcome,
                                         flags.compact ? -1 : 2);
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "clerkship-round-replay: cannot write the result\n";
    return kExitUsage;
  }
  const double write_ms = MillisecondsSince(start);
  if (flags.timing) {
    std::fprintf(stderr,
                 "timing: parse %.1f ms, lotteries+matching+verification+"
                 "statistics %.1f ms, write %.1f ms\n",
                 parse_ms, round_ms, write_ms);
  }

  if (!outcome.verdict.stable()) {
    std::cerr << "clerkship-round-replay: the replayed matching is NOT "
                 "stable: "
              << outcome.verdict.explanation << "\n";
    return kExitUnstable;
  }
  if (!flags.check_path.empty()) {
    return CheckPublished(*instance, outcome.matching, flags.check_path);
  }
  return kExitOk;
}
