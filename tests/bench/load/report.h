#pragma once

// Output of a load run: a plain-text table for the terminal, a Markdown report and a JSON
// document, each with every figure divided by its baseline measured in the same run.

#include <string>
#include <vector>

#include "tests/bench/load/load_driver.h"
#include "tests/bench/load/proc_stats.h"

namespace clerkship::bench {

struct Report {
  std::vector<RunResult> runs;
  std::vector<MemoryPoint> memory;
  Snapshot first, last;  // process samples at the start and at the end
  std::string command;   // how the run was started
  std::string started;   // UTC time
  std::string load_average_before, load_average_after;  // /proc/loadavg
  int cores = 0;
};

// The run of r's baseline at the same mode and concurrency (or rate) — the one measured
// nearest before r (its paired baseline), else the nearest after — or null. `r` must be an
// element of `runs`.
const RunResult* FindBaseline(const std::vector<RunResult>& runs, const RunResult& r);
// Likewise for the echo.
const RunResult* FindEcho(const std::vector<RunResult>& runs, const RunResult& r);

// One line per run, as printed while the run goes on.
std::string FormatRunLine(const RunResult& r, const RunResult* baseline);
std::string FormatTable(const Report& report);
std::string FormatMarkdown(const Report& report);
std::string FormatJson(const Report& report);

}  // namespace clerkship::bench
