#pragma once

// CPU time and memory of the processes under test, read from /proc: how busy each
// process was during a measurement (to tell a service-bound figure from a client-bound
// or machine-bound one) and whether its memory stays flat.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace clerkship::bench {

struct ProcSample {
  bool alive = false;
  double cpu_seconds = 0;  // user + system since the process started
  int64_t rss_kb = 0;      // VmRSS
  int64_t hwm_kb = 0;      // VmHWM: peak resident set size
};

ProcSample ReadProc(int pid);
// Busy and total CPU seconds of the whole machine (all cores), from /proc/stat.
std::pair<double, double> ReadMachineCpu();

struct Snapshot {
  int64_t at_nanos = 0;
  std::map<std::string, ProcSample> procs;  // by name; "load" is this process
  double machine_busy = 0, machine_total = 0;
};

// CPU use between two snapshots, in cores (1.0 = one core fully busy).
struct CpuUse {
  std::map<std::string, double> cores;  // by process name
  double machine_cores = 0;             // everything on the machine
};

struct MemoryPoint {
  double seconds = 0;  // since the watcher started
  std::map<std::string, int64_t> rss_kb;
};

class ProcWatcher {
 public:
  // `named_pids`: "catalog=1234,applicant=1235"; the load tool itself is always "load".
  explicit ProcWatcher(const std::map<std::string, int>& pids);

  Snapshot Take() const;
  static CpuUse Between(const Snapshot& a, const Snapshot& b);
  const std::map<std::string, int>& pids() const { return pids_; }

  // Memory timeline, kept by whoever calls RecordMemory (the driver, between scenarios
  // and every few seconds while measuring).
  void RecordMemory(const Snapshot& s);
  std::vector<MemoryPoint> memory() const;
  Snapshot first() const;

 private:
  std::map<std::string, int> pids_;
  int64_t start_nanos_;
  mutable absl::Mutex mu_;
  std::vector<MemoryPoint> memory_ ABSL_GUARDED_BY(mu_);
  Snapshot first_ ABSL_GUARDED_BY(mu_);
  bool have_first_ ABSL_GUARDED_BY(mu_) = false;
};

// Parses "name=pid,name=pid"; returns false on a malformed list.
bool ParseNamedPids(const std::string& text, std::map<std::string, int>* out);

}  // namespace clerkship::bench
