#include "tests/bench/load/proc_stats.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/bench/load/clock.h"

namespace clerkship::bench {
namespace {

double TicksPerSecond() {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return ticks;
}

int64_t StatusKb(const std::string& status, absl::string_view key) {
  size_t at = absl::string_view(status).find(key);
  if (at == std::string::npos) return 0;
  absl::string_view rest = absl::string_view(status).substr(at + key.size());
  rest = absl::StripLeadingAsciiWhitespace(rest);
  size_t end = rest.find(' ');
  int64_t kb = 0;
  (void)absl::SimpleAtoi(rest.substr(0, end), &kb);
  return kb;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

ProcSample ReadProc(int pid) {
  ProcSample s;
  std::string base = "/proc/" + std::to_string(pid);
  std::string stat = ReadAll(base + "/stat");
  if (stat.empty()) return s;
  // The command name (field 2) may hold spaces; fields are counted after its ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return s;
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ');
  // After ')': state is field 3, utime field 14, stime field 15 → indexes 11 and 12.
  if (fields.size() < 13) return s;
  double utime = 0, stime = 0;
  (void)absl::SimpleAtod(fields[11], &utime);
  (void)absl::SimpleAtod(fields[12], &stime);
  s.cpu_seconds = (utime + stime) / TicksPerSecond();
  std::string status = ReadAll(base + "/status");
  s.rss_kb = StatusKb(status, "VmRSS:");
  s.hwm_kb = StatusKb(status, "VmHWM:");
  s.alive = fields[0] != "Z";
  return s;
}

std::pair<double, double> ReadMachineCpu() {
  std::ifstream in("/proc/stat");
  std::string line;
  std::getline(in, line);  // "cpu  user nice system idle iowait irq softirq steal ..."
  std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
  double total = 0, idle = 0;
  for (size_t i = 1; i < f.size() && i <= 8; ++i) {
    double v = 0;
    (void)absl::SimpleAtod(f[i], &v);
    total += v;
    if (i == 4 || i == 5) idle += v;  // idle, iowait
  }
  return {(total - idle) / TicksPerSecond(), total / TicksPerSecond()};
}

ProcWatcher::ProcWatcher(const std::map<std::string, int>& pids)
    : pids_(pids), start_nanos_(NowNanos()) {
  pids_["load"] = static_cast<int>(getpid());
}

Snapshot ProcWatcher::Take() const {
  Snapshot s;
  s.at_nanos = NowNanos();
  for (const auto& [name, pid] : pids_) s.procs[name] = ReadProc(pid);
  auto [busy, total] = ReadMachineCpu();
  s.machine_busy = busy;
  s.machine_total = total;
  return s;
}

CpuUse ProcWatcher::Between(const Snapshot& a, const Snapshot& b) {
  CpuUse use;
  double wall = static_cast<double>(b.at_nanos - a.at_nanos) / 1e9;
  if (wall <= 0) return use;
  for (const auto& [name, after] : b.procs) {
    auto it = a.procs.find(name);
    if (it == a.procs.end() || !after.alive) continue;
    use.cores[name] = (after.cpu_seconds - it->second.cpu_seconds) / wall;
  }
  use.machine_cores = (b.machine_busy - a.machine_busy) / wall;
  return use;
}

void ProcWatcher::RecordMemory(const Snapshot& s) {
  MemoryPoint p;
  p.seconds = static_cast<double>(s.at_nanos - start_nanos_) / 1e9;
  for (const auto& [name, proc] : s.procs) {
    if (proc.alive) p.rss_kb[name] = proc.rss_kb;
  }
  absl::MutexLock lock(&mu_);
  if (!have_first_) {
    first_ = s;
    have_first_ = true;
  }
  memory_.push_back(std::move(p));
}

std::vector<MemoryPoint> ProcWatcher::memory() const {
  absl::MutexLock lock(&mu_);
  return memory_;
}

Snapshot ProcWatcher::first() const {
  absl::MutexLock lock(&mu_);
  return first_;
}

bool ParseNamedPids(const std::string& text, std::map<std::string, int>* out) {
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, '=');
    int pid = 0;
    if (kv.first.empty() || !absl::SimpleAtoi(kv.second, &pid) || pid <= 0) return false;
    (*out)[std::string(kv.first)] = pid;
  }
  return true;
}

}  // namespace clerkship::bench
