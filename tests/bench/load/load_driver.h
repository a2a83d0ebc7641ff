#pragma once

// Runs a scenario under load and measures it.
//
// Closed loop: `concurrency` slots each run one operation after another (an operation is
// one RPC or a short sequence such as HoldSeat then ReleaseSeat), so exactly that many are
// in flight. Latency is from the operation's start to its end; throughput is what the
// system gives at that concurrency.
//
// Open loop: operations start at a fixed rate whatever happens to earlier ones, and each
// latency is measured from the operation's *intended* start time. A stall therefore shows
// up in the latency of every operation that should have started during it, instead of
// silently slowing the sender down (coordinated omission).
//
// Both run a warm-up first (results discarded), then measure for `duration`.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/bench/load/histogram.h"
#include "tests/bench/load/proc_stats.h"
#include "tests/bench/load/rpc.h"

namespace clerkship::bench {

// Calls of one method (an RPC, or an HTTP route) within a scenario.
class MethodStats {
 public:
  explicit MethodStats(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  Histogram& latency() { return latency_; }  // successful calls only
  const Histogram& latency() const { return latency_; }
  uint64_t ok() const { return ok_.load(std::memory_order_relaxed); }
  void RecordOk(int64_t nanos) {
    ok_.fetch_add(1, std::memory_order_relaxed);
    latency_.RecordNanos(nanos);
  }
  void RecordError(const std::string& code);
  std::map<std::string, uint64_t> errors() const;
  uint64_t error_count() const;

 private:
  std::string name_;
  Histogram latency_;
  std::atomic<uint64_t> ok_{0};
  mutable absl::Mutex mu_;
  std::map<std::string, uint64_t> errors_ ABSL_GUARDED_BY(mu_);
};

class ScenarioStats {
 public:
  // `methods`: the scenario's method names; method(i) is the i-th, without locking.
  explicit ScenarioStats(const std::vector<std::string>& methods);
  MethodStats* method(int i) { return methods_[static_cast<size_t>(i)].get(); }
  std::vector<const MethodStats*> methods() const;

  Histogram& op_latency() { return op_latency_; }
  const Histogram& op_latency() const { return op_latency_; }
  std::atomic<uint64_t> ops_ok{0};
  std::atomic<uint64_t> ops_failed{0};
  std::atomic<uint64_t> ops_not_sent{0};  // open loop: dropped at the client's in-flight cap

  void SetWindow(int64_t start, int64_t end) {
    window_start_.store(start);
    window_end_.store(end);
  }
  bool InWindow(int64_t t) const {
    return t >= window_start_.load(std::memory_order_relaxed) &&
           t < window_end_.load(std::memory_order_relaxed);
  }

 private:
  std::vector<std::unique_ptr<MethodStats>> methods_;
  Histogram op_latency_;
  std::atomic<int64_t> window_start_{0};
  std::atomic<int64_t> window_end_{0};
};

// What an operation knows about itself.
struct OpContext {
  int slot = 0;       // closed loop: the slot (0..concurrency-1); open loop: seq % 1024
  uint64_t seq = 0;   // unique per scenario object, increasing
  ScenarioStats* stats = nullptr;
};

class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual std::string name() const = 0;
  // Which measured scenario its figures are divided by ("echo" unless said otherwise).
  virtual std::string baseline() const { return "echo"; }
  // The methods it calls; ScenarioStats::method(i) is methods()[i].
  virtual std::vector<std::string> methods() const = 0;
  // One short probe before measuring. A non-OK status skips the scenario; the message says
  // why (service not running, RPC UNIMPLEMENTED, no data seeded).
  virtual absl::Status Check() = 0;
  // Starts one operation and calls done(ok) exactly once, from any thread. Must not block.
  virtual void StartOp(const OpContext& ctx, std::function<void(bool ok)> done) = 0;
  virtual bool SupportsOpenLoop() const { return true; }
  // True when the scenario writes data whose consequences (events consumed by other
  // services) keep the machine busy after it ends.
  virtual bool Writes() const { return false; }

  // Operation numbers, unique per scenario object across all its runs.
  uint64_t NextSeq() { return next_seq_.fetch_add(1); }

 private:
  std::atomic<uint64_t> next_seq_{0};
};

struct RunSpec {
  enum class Mode { kClosed, kOpen };
  Mode mode = Mode::kClosed;
  int concurrency = 1;          // closed loop
  double rate = 0;              // open loop: operations per second
  int max_in_flight = 20000;    // open loop: beyond this, operations are not sent
  absl::Duration warmup = absl::Seconds(2);
  absl::Duration duration = absl::Seconds(10);
  absl::Duration memory_sample_interval = absl::Seconds(5);
};

struct MethodResult {
  std::string name;
  uint64_t ok = 0;
  std::map<std::string, uint64_t> errors;
  double per_second = 0;
  int64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // nanoseconds
  double mean = 0;
};

struct RunResult {
  std::string scenario;
  std::string baseline;
  RunSpec spec;
  int channels = 0;
  std::string skipped;  // non-empty: why it did not run
  bool undrained = false;  // some operations never finished (past their deadline)
  bool paired = false;     // a baseline measured just before the next run, for its ratio
  double seconds = 0;   // measured window
  uint64_t ops_ok = 0, ops_failed = 0, ops_not_sent = 0;
  double ops_per_second = 0;   // successful operations per second
  double calls_per_second = 0; // successful RPCs (or HTTP requests) per second
  int64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // operation latency, ns
  double mean = 0;
  std::vector<MethodResult> methods;
  CpuUse cpu;
};

class Driver {
 public:
  Driver(RpcClient* client, ProcWatcher* watcher) : client_(client), watcher_(watcher) {}

  RunResult Run(Scenario* scenario, const RunSpec& spec);
  // Waits until the watched processes (other than this one) use less than `cores` CPU in
  // total, for at most `max_wait`; returns how long it waited.
  absl::Duration WaitQuiet(double cores, absl::Duration max_wait);
  // Runs one operation and reports the first failing call ("GetRotation: UNIMPLEMENTED"),
  // or OK. Used before measuring, to skip scenarios whose service is missing.
  absl::Status Probe(Scenario* scenario);

 private:
  // Both return false when operations were still out after their deadline.
  bool RunClosed(Scenario* scenario, const RunSpec& spec, ScenarioStats* stats,
                 Snapshot* before, Snapshot* after);
  bool RunOpen(Scenario* scenario, const RunSpec& spec, ScenarioStats* stats, Snapshot* before,
               Snapshot* after);
  // Sleeps until `deadline_nanos`, taking a memory sample every interval on the way.
  void SleepUntil(int64_t deadline_nanos, absl::Duration sample_interval);

  RpcClient* client_;
  ProcWatcher* watcher_;
};

// Builds the per-method and per-operation figures of a finished run.
void Summarize(const ScenarioStats& stats, double seconds, RunResult* out);

}  // namespace clerkship::bench
