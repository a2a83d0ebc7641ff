#include "tests/bench/load/report.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace clerkship::bench {
namespace {

bool IsOpen(const RunResult& r) { return r.spec.mode == RunSpec::Mode::kOpen; }

std::string Latency(int64_t ns) {
  if (ns <= 0) return "-";
  if (ns < 1000000) return absl::StrFormat("%.0fµs", ns / 1e3);
  if (ns < 100000000) return absl::StrFormat("%.2fms", ns / 1e6);
  return absl::StrFormat("%.0fms", ns / 1e6);
}

std::string Rate(double per_second) { return absl::StrFormat("%.0f", per_second); }

std::string Ratio(double value, double base) {
  if (base <= 0 || value <= 0) return "-";
  return absl::StrFormat("%.2f", value / base);
}

std::string Load(const RunResult& r) {
  return IsOpen(r) ? absl::StrFormat("%.0f/s", r.spec.rate) : absl::StrCat(r.spec.concurrency);
}

// Single-call scenarios compare their latency with the baseline's directly; multi-call
// operations (hold_release, offer_accept, journey) do so per method in the detail table.
bool SingleCall(const RunResult& r) {
  int used = 0;
  for (const auto& m : r.methods) used += (m.ok > 0 || !m.errors.empty()) ? 1 : 0;
  return used == 1 && r.scenario != "offer_accept";
}

std::string Errors(const RunResult& r) {
  std::map<std::string, uint64_t> all;
  for (const auto& m : r.methods) {
    for (const auto& [code, n] : m.errors) all[code] += n;
  }
  if (r.ops_not_sent > 0) all["NOT_SENT(client cap)"] += r.ops_not_sent;
  if (all.empty()) return "0";
  std::vector<std::string> parts;
  for (const auto& [code, n] : all) parts.push_back(absl::StrCat(code, " ", n));
  return absl::StrJoin(parts, ", ");
}

std::string Cpu(const RunResult& r) {
  std::vector<std::string> parts;
  for (const auto& [name, cores] : r.cpu.cores) {
    if (cores >= 0.005) parts.push_back(absl::StrFormat("%s %.2f", name, cores));
  }
  parts.push_back(absl::StrFormat("machine %.2f", r.cpu.machine_cores));
  return absl::StrJoin(parts, ", ");
}

// CPU time per successful call, by process: what a call costs, whatever else the machine
// was doing (unlike throughput, this barely moves with other load on the machine).
std::string CpuPerCall(const RunResult& r) {
  if (r.calls_per_second <= 0) return "-";
  std::vector<std::string> parts;
  double watched = 0;
  for (const auto& [name, cores] : r.cpu.cores) {
    double us = cores * 1e6 / r.calls_per_second;
    watched += cores;
    if (us >= 1) parts.push_back(absl::StrFormat("%s %.0f", name, us));
  }
  parts.push_back(absl::StrFormat("**all %.0f**", watched * 1e6 / r.calls_per_second));
  double other = r.cpu.machine_cores - watched;
  parts.push_back(absl::StrFormat("(not ours: %.2f cores)", other > 0 ? other : 0.0));
  return absl::StrJoin(parts, ", ");
}

void JsonString(std::string* out, const std::string& s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string JsonNumber(double v) { return absl::StrFormat("%.6g", v); }

void JsonLatency(std::string* out, int64_t p50, int64_t p90, int64_t p99, int64_t p999,
                 int64_t max, double mean) {
  absl::StrAppend(out, "{\"p50\":", p50, ",\"p90\":", p90, ",\"p99\":", p99, ",\"p999\":", p999,
                  ",\"max\":", max, ",\"mean\":", JsonNumber(mean), "}");
}

struct MemorySummary {
  int64_t first = 0, last = 0, min = 0, max = 0;
};

std::map<std::string, MemorySummary> SummarizeMemory(const std::vector<MemoryPoint>& points) {
  std::map<std::string, MemorySummary> out;
  for (const MemoryPoint& p : points) {
    for (const auto& [name, kb] : p.rss_kb) {
      auto [it, fresh] = out.try_emplace(name);
      MemorySummary& m = it->second;
      if (fresh) m.first = m.min = m.max = kb;
      m.last = kb;
      m.min = std::min(m.min, kb);
      m.max = std::max(m.max, kb);
    }
  }
  return out;
}

std::string Mb(int64_t kb) { return absl::StrFormat("%.1f", kb / 1024.0); }

}  // namespace

namespace {

bool SameLoad(const RunResult& a, const RunResult& b) {
  if (a.spec.mode != b.spec.mode) return false;
  return IsOpen(a) ? a.spec.rate == b.spec.rate : a.spec.concurrency == b.spec.concurrency;
}

// The run of `scenario` at the same load as runs[near] (or `like`), nearest before it, else
// nearest after it: with paired baselines that is the measurement taken just before.
const RunResult* FindNear(const std::vector<RunResult>& runs, const std::string& scenario,
                          const RunResult& like, size_t near) {
  auto matches = [&](const RunResult& b) {
    return b.scenario == scenario && b.skipped.empty() && SameLoad(b, like);
  };
  for (size_t j = std::min(near, runs.size()); j-- > 0;) {
    if (matches(runs[j])) return &runs[j];
  }
  for (size_t j = near; j < runs.size(); ++j) {
    if (matches(runs[j])) return &runs[j];
  }
  return nullptr;
}

size_t IndexOf(const std::vector<RunResult>& runs, const RunResult& r) {
  if (!runs.empty() && &r >= runs.data() && &r < runs.data() + runs.size()) {
    return static_cast<size_t>(&r - runs.data());
  }
  return runs.size();
}

}  // namespace

const RunResult* FindBaseline(const std::vector<RunResult>& runs, const RunResult& r) {
  size_t at = IndexOf(runs, r);
  if (r.scenario == r.baseline && at < runs.size()) return &r;
  return FindNear(runs, r.baseline, r, at);
}

const RunResult* FindEcho(const std::vector<RunResult>& runs, const RunResult& r) {
  return FindNear(runs, "echo", r, IndexOf(runs, r));
}

std::string FormatRunLine(const RunResult& r, const RunResult* b) {
  if (!r.skipped.empty()) {
    return absl::StrFormat("%-20s %7s  SKIPPED: %s", r.scenario, Load(r), r.skipped);
  }
  std::string ratio = b != nullptr && b != &r
                          ? absl::StrFormat("  %s× %s", Ratio(r.calls_per_second,
                                                              b->calls_per_second), b->scenario)
                          : "";
  return absl::StrFormat(
      "%-20s %7s  %8s calls/s%s%s  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  errors %s  [cpu: %s]",
      r.scenario, Load(r), Rate(r.calls_per_second), r.paired ? " (paired baseline)" : "", ratio,
      Latency(r.p50), Latency(r.p90),
      Latency(r.p99), Latency(r.p999), Latency(r.max), Errors(r), Cpu(r));
}

std::string FormatTable(const Report& report) {
  std::string out = absl::StrFormat(
      "%-20s %7s %9s %9s %-13s %8s %8s %8s %8s %8s %8s  %s\n", "scenario", "load", "ops/s",
      "calls/s", "×baseline", "p50", "p90", "p99", "p99.9", "max", "p50×base", "errors");
  for (const RunResult& r : report.runs) {
    if (r.paired) continue;
    if (!r.skipped.empty()) {
      absl::StrAppendFormat(&out, "%-20s %7s  skipped: %s\n", r.scenario, Load(r), r.skipped);
      continue;
    }
    const RunResult* b = FindBaseline(report.runs, r);
    std::string ratio = b != nullptr ? absl::StrCat(Ratio(r.calls_per_second, b->calls_per_second),
                                                    " ", b->scenario)
                                     : "-";
    std::string p50_ratio =
        b != nullptr && SingleCall(r) && SingleCall(*b) ? Ratio(r.p50, b->p50) : "-";
    absl::StrAppendFormat(&out, "%-20s %7s %9s %9s %-13s %8s %8s %8s %8s %8s %8s  %s\n",
                          r.scenario, Load(r), Rate(r.ops_per_second), Rate(r.calls_per_second),
                          ratio, Latency(r.p50), Latency(r.p90), Latency(r.p99),
                          Latency(r.p999), Latency(r.max), p50_ratio, Errors(r));
  }
  return out;
}

std::string FormatMarkdown(const Report& report) {
  std::string out;
  absl::StrAppend(&out, "## Load results\n\n");
  absl::StrAppend(&out, "Started ", report.started, " on ", report.cores,
                  " cores; load average before: `", report.load_average_before,
                  "`, after: `", report.load_average_after, "`.\n\n");
  absl::StrAppend(&out, "Command: `", report.command, "`\n\n");
  absl::StrAppend(&out,
                  "Calls/s counts successful RPCs (or HTTP requests); an operation of a "
                  "multi-call scenario is several calls. *× baseline* divides calls/s by the "
                  "baseline's, measured in this run at the same concurrency (or rate); "
                  "*p50 × baseline* does the same for the median latency of single-call "
                  "scenarios. Latencies are of whole operations, successful ones only; open-loop "
                  "latencies are measured from each operation's intended start.\n\n");

  for (bool open : {false, true}) {
    bool any = false;
    for (const RunResult& r : report.runs) any |= IsOpen(r) == open;
    if (!any) continue;
    absl::StrAppend(&out, open ? "### Open loop (fixed arrival rate)\n\n"
                               : "### Closed loop (N requests in flight)\n\n");
    absl::StrAppend(&out, "| scenario | ", open ? "rate" : "in flight",
                    " | ops/s | calls/s | × baseline | p50 | p90 | p99 | p99.9 | max | p50 × "
                    "baseline | errors | baseline calls/s, p50 |\n|---|---:|---:|---:|---|---:|"
                    "---:|---:|---:|---:|---:|---|---|\n");
    for (const RunResult& r : report.runs) {
      if (IsOpen(r) != open || r.paired) continue;
      if (!r.skipped.empty()) {
        absl::StrAppend(&out, "| ", r.scenario, " | ", Load(r), " | skipped: ", r.skipped,
                        " | | | | | | | | | | |\n");
        continue;
      }
      const RunResult* b = FindBaseline(report.runs, r);
      std::string ratio = b == nullptr ? "-"
                          : b == &r    ? "1.00 (baseline)"
                                       : absl::StrCat("**", Ratio(r.calls_per_second,
                                                                  b->calls_per_second),
                                                      "** × ", b->scenario);
      std::string p50_ratio =
          b != nullptr && SingleCall(r) && SingleCall(*b) ? Ratio(r.p50, b->p50) : "-";
      std::string base_figures =
          b == nullptr || b == &r
              ? ""
              : absl::StrCat(b->scenario, b->paired ? " (paired) " : " ",
                             Rate(b->calls_per_second), ", ", Latency(b->p50));
      absl::StrAppend(&out, "| ", r.scenario, " | ", Load(r), " | ", Rate(r.ops_per_second),
                      " | ", Rate(r.calls_per_second), " | ", ratio, " | ", Latency(r.p50),
                      " | ", Latency(r.p90), " | ", Latency(r.p99), " | ", Latency(r.p999),
                      " | ", Latency(r.max), " | ", p50_ratio, " | ", Errors(r), " | ",
                      base_figures, " |\n");
    }
    absl::StrAppend(&out, "\n");
  }

  // How much the echo itself moved during the run: the noise floor of every ratio.
  std::map<std::string, std::vector<double>> echo_runs;
  for (const RunResult& r : report.runs) {
    if (r.scenario == "echo" && r.skipped.empty()) {
      echo_runs[absl::StrCat(IsOpen(r) ? "rate " : "", Load(r))].push_back(r.calls_per_second);
    }
  }
  bool any_repeat = false;
  for (const auto& [load, v] : echo_runs) any_repeat |= v.size() > 1;
  if (any_repeat) {
    absl::StrAppend(&out,
                    "Echo measured more than once at a load (paired baselines): its spread is "
                    "the noise floor of the ratios.\n\n| load | echo measurements | min "
                    "calls/s | max calls/s | spread |\n|---:|---:|---:|---:|---:|\n");
    for (const auto& [load, v] : echo_runs) {
      double lo = *std::min_element(v.begin(), v.end());
      double hi = *std::max_element(v.begin(), v.end());
      absl::StrAppend(&out, "| ", load, " | ", v.size(), " | ", Rate(lo), " | ", Rate(hi), " | ",
                      lo > 0 ? absl::StrFormat("%.0f%%", 100.0 * (hi - lo) / lo) : "-", " |\n");
    }
    absl::StrAppend(&out, "\n");
  }

  absl::StrAppend(&out,
                  "### Per method\n\nEvery call of every operation; *p50 × echo* divides by "
                  "the echo's median at the same load.\n\n"
                  "| scenario | load | method | calls/s | p50 | p90 | p99 | p99.9 | max | p50 × "
                  "echo | errors |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (const RunResult& r : report.runs) {
    if (!r.skipped.empty() || r.paired) continue;
    const RunResult* echo = FindEcho(report.runs, r);
    for (const MethodResult& m : r.methods) {
      if (m.ok == 0 && m.errors.empty()) continue;
      std::vector<std::string> errs;
      for (const auto& [code, n] : m.errors) errs.push_back(absl::StrCat(code, " ", n));
      absl::StrAppend(&out, "| ", r.scenario, " | ", Load(r), " | ", m.name, " | ",
                      Rate(m.per_second), " | ", Latency(m.p50), " | ", Latency(m.p90), " | ",
                      Latency(m.p99), " | ", Latency(m.p999), " | ", Latency(m.max), " | ",
                      echo != nullptr ? Ratio(m.p50, echo->p50) : "-", " | ",
                      errs.empty() ? "0" : absl::StrJoin(errs, ", "), " |\n");
    }
  }

  absl::StrAppend(&out,
                  "\n### CPU while measuring\n\nCores used by each process during the measured "
                  "window (1.00 = one core busy; *machine* is everything on the machine, "
                  "including work that is not part of the benchmark), and CPU microseconds "
                  "per successful call by process (*all* = every watched process, the load "
                  "tool included). On a shared machine the per-call cost is the steadier "
                  "figure.\n\n| scenario | load | cores | CPU µs per call |\n|---|---:|---|---|\n");
  for (const RunResult& r : report.runs) {
    if (!r.skipped.empty()) continue;
    absl::StrAppend(&out, "| ", r.scenario, r.paired ? " (paired baseline)" : "", " | ", Load(r),
                    " | ", Cpu(r), " | ", CpuPerCall(r), " |\n");
  }

  absl::StrAppend(&out,
                  "\n### Memory\n\nResident set size (VmRSS) sampled between scenarios and "
                  "every few seconds while measuring; VmHWM is the peak resident set size the "
                  "kernel recorded, at the start and at the end of the run.\n\n| process | RSS "
                  "first MB | RSS last MB | RSS min MB | RSS max MB | VmHWM start MB | VmHWM end "
                  "MB |\n|---|---:|---:|---:|---:|---:|---:|\n");
  std::map<std::string, MemorySummary> mem = SummarizeMemory(report.memory);
  for (const auto& [name, m] : mem) {
    int64_t hwm_first = 0, hwm_last = 0;
    if (auto it = report.first.procs.find(name); it != report.first.procs.end()) {
      hwm_first = it->second.hwm_kb;
    }
    if (auto it = report.last.procs.find(name); it != report.last.procs.end()) {
      hwm_last = it->second.hwm_kb;
    }
    absl::StrAppend(&out, "| ", name, " | ", Mb(m.first), " | ", Mb(m.last), " | ", Mb(m.min),
                    " | ", Mb(m.max), " | ", Mb(hwm_first), " | ", Mb(hwm_last), " |\n");
  }
  return out;
}

std::string FormatJson(const Report& report) {
  std::string out = "{\n\"started\":";
  JsonString(&out, report.started);
  out += ",\n\"command\":";
  JsonString(&out, report.command);
  absl::StrAppend(&out, ",\n\"cores\":", report.cores, ",\n\"load_average_before\":");
  JsonString(&out, report.load_average_before);
  out += ",\n\"load_average_after\":";
  JsonString(&out, report.load_average_after);
  out += ",\n\"runs\":[";
  bool first_run = true;
  for (const RunResult& r : report.runs) {
    out += first_run ? "\n" : ",\n";
    first_run = false;
    out += "{\"scenario\":";
    JsonString(&out, r.scenario);
    out += ",\"baseline\":";
    JsonString(&out, r.baseline);
    absl::StrAppend(&out, ",\"mode\":\"", IsOpen(r) ? "open" : "closed", "\"");
    absl::StrAppend(&out, ",\"concurrency\":", r.spec.concurrency,
                    ",\"rate\":", JsonNumber(r.spec.rate), ",\"channels\":", r.channels,
                    ",\"warmup_s\":", JsonNumber(absl::ToDoubleSeconds(r.spec.warmup)),
                    ",\"duration_s\":", JsonNumber(absl::ToDoubleSeconds(r.spec.duration)));
    if (!r.skipped.empty()) {
      out += ",\"skipped\":";
      JsonString(&out, r.skipped);
      out += "}";
      continue;
    }
    const RunResult* b = FindBaseline(report.runs, r);
    absl::StrAppend(&out, ",\"ops_ok\":", r.ops_ok, ",\"ops_failed\":", r.ops_failed,
                    ",\"ops_not_sent\":", r.ops_not_sent,
                    ",\"ops_per_second\":", JsonNumber(r.ops_per_second),
                    ",\"calls_per_second\":", JsonNumber(r.calls_per_second));
    if (b != nullptr && b->calls_per_second > 0) {
      absl::StrAppend(&out, ",\"calls_ratio_to_baseline\":",
                      JsonNumber(r.calls_per_second / b->calls_per_second));
      if (SingleCall(r) && SingleCall(*b) && b->p50 > 0) {
        absl::StrAppend(&out, ",\"p50_ratio_to_baseline\":",
                        JsonNumber(static_cast<double>(r.p50) / b->p50));
      }
    }
    if (r.undrained) out += ",\"undrained\":true";
    if (r.paired) out += ",\"paired_baseline\":true";
    out += ",\"latency_ns\":";
    JsonLatency(&out, r.p50, r.p90, r.p99, r.p999, r.max, r.mean);
    out += ",\"methods\":[";
    bool first_method = true;
    for (const MethodResult& m : r.methods) {
      if (!first_method) out += ",";
      first_method = false;
      out += "{\"name\":";
      JsonString(&out, m.name);
      absl::StrAppend(&out, ",\"ok\":", m.ok, ",\"per_second\":", JsonNumber(m.per_second),
                      ",\"latency_ns\":");
      JsonLatency(&out, m.p50, m.p90, m.p99, m.p999, m.max, m.mean);
      out += ",\"errors\":{";
      bool first_error = true;
      for (const auto& [code, n] : m.errors) {
        if (!first_error) out += ",";
        first_error = false;
        JsonString(&out, code);
        absl::StrAppend(&out, ":", n);
      }
      out += "}}";
    }
    out += "],\"cpu_cores\":{";
    bool first_cpu = true;
    for (const auto& [name, cores] : r.cpu.cores) {
      if (!first_cpu) out += ",";
      first_cpu = false;
      JsonString(&out, name);
      absl::StrAppend(&out, ":", JsonNumber(cores));
    }
    absl::StrAppend(&out, "},\"machine_cores\":", JsonNumber(r.cpu.machine_cores), "}");
  }
  out += "\n],\n\"memory\":{";
  std::map<std::string, MemorySummary> mem = SummarizeMemory(report.memory);
  bool first_proc = true;
  for (const auto& [name, m] : mem) {
    if (!first_proc) out += ",";
    first_proc = false;
    JsonString(&out, name);
    int64_t hwm_first = 0, hwm_last = 0;
    if (auto it = report.first.procs.find(name); it != report.first.procs.end()) {
      hwm_first = it->second.hwm_kb;
    }
    if (auto it = report.last.procs.find(name); it != report.last.procs.end()) {
      hwm_last = it->second.hwm_kb;
    }
    absl::StrAppend(&out, ":{\"rss_first_kb\":", m.first, ",\"rss_last_kb\":", m.last,
                    ",\"rss_min_kb\":", m.min, ",\"rss_max_kb\":", m.max,
                    ",\"vmhwm_start_kb\":", hwm_first, ",\"vmhwm_end_kb\":", hwm_last, "}");
  }
  out += "},\n\"memory_timeline\":[";
  bool first_point = true;
  for (const MemoryPoint& p : report.memory) {
    if (!first_point) out += ",";
    first_point = false;
    absl::StrAppend(&out, "{\"t\":", JsonNumber(p.seconds));
    for (const auto& [name, kb] : p.rss_kb) {
      out += ",";
      JsonString(&out, name);
      absl::StrAppend(&out, ":", kb);
    }
    out += "}";
  }
  out += "]\n}\n";
  return out;
}

}  // namespace clerkship::bench
