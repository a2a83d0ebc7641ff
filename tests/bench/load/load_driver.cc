#include "tests/bench/load/load_driver.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/time/clock.h"
#include "tests/bench/load/clock.h"

namespace clerkship::bench {

void MethodStats::RecordError(const std::string& code) {
  absl::MutexLock lock(&mu_);
  ++errors_[code];
}

std::map<std::string, uint64_t> MethodStats::errors() const {
  absl::MutexLock lock(&mu_);
  return errors_;
}

uint64_t MethodStats::error_count() const {
  absl::MutexLock lock(&mu_);
  uint64_t n = 0;
  for (const auto& [code, count] : errors_) n += count;
  return n;
}

ScenarioStats::ScenarioStats(const std::vector<std::string>& methods) {
  for (const std::string& name : methods) methods_.push_back(std::make_unique<MethodStats>(name));
}

std::vector<const MethodStats*> ScenarioStats::methods() const {
  std::vector<const MethodStats*> out;
  for (const auto& m : methods_) out.push_back(m.get());
  return out;
}

namespace {

// Operations that finish without going through a completion queue (a scenario that has
// nothing to do) would otherwise recurse; past this depth the next start is deferred.
constexpr int kMaxInlineDepth = 8;
thread_local int g_inline_depth = 0;

class ClosedLoop {
 public:
  ClosedLoop(Scenario* scenario, ScenarioStats* stats, RpcClient* client, int concurrency)
      : scenario_(scenario), stats_(stats), client_(client), active_(concurrency) {}

  void Launch(int slot) {
    OpContext ctx;
    ctx.slot = slot;
    ctx.seq = NextSeq();
    ctx.stats = stats_;
    int64_t start = NowNanos();
    scenario_->StartOp(ctx, [this, slot, start](bool ok) { OnDone(slot, start, ok); });
  }

  void Stop() { stop_.store(true); }

  // True when every slot has finished its last operation.
  bool WaitDrained(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return active_ == 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&drained), timeout);
  }

  uint64_t NextSeq() { return scenario_->NextSeq(); }

 private:
  void OnDone(int slot, int64_t start, bool ok) {
    int64_t end = NowNanos();
    if (stats_->InWindow(end)) {
      if (ok) {
        stats_->ops_ok.fetch_add(1, std::memory_order_relaxed);
        stats_->op_latency().RecordNanos(end - start);
      } else {
        stats_->ops_failed.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (stop_.load()) {
      absl::MutexLock lock(&mu_);
      --active_;
      return;
    }
    if (g_inline_depth >= kMaxInlineDepth) {
      client_->Defer(slot, absl::ZeroDuration(), [this, slot] { Launch(slot); });
      return;
    }
    ++g_inline_depth;
    Launch(slot);
    --g_inline_depth;
  }

  Scenario* scenario_;
  ScenarioStats* stats_;
  RpcClient* client_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_);
};

class OpenLoop {
 public:
  OpenLoop(Scenario* scenario, ScenarioStats* stats) : scenario_(scenario), stats_(stats) {}

  // Starts the operation meant to start at `intended` (which may be in the past).
  void Launch(uint64_t index, int64_t intended) {
    in_flight_.fetch_add(1);
    OpContext ctx;
    ctx.slot = static_cast<int>(index % 1024);
    ctx.seq = scenario_->NextSeq();
    ctx.stats = stats_;
    scenario_->StartOp(ctx, [this, intended](bool ok) {
      int64_t end = NowNanos();
      // Operations are counted by when they were meant to start, so that every operation
      // of the window is counted however late it ends.
      if (stats_->InWindow(intended)) {
        if (ok) {
          stats_->ops_ok.fetch_add(1, std::memory_order_relaxed);
          stats_->op_latency().RecordNanos(end - intended);
        } else {
          stats_->ops_failed.fetch_add(1, std::memory_order_relaxed);
        }
      }
      absl::MutexLock lock(&mu_);
      in_flight_.fetch_sub(1);
    });
  }

  int64_t in_flight() const { return in_flight_.load(); }

  bool WaitDrained(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto drained = [this]() { return in_flight_.load() == 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&drained), timeout);
  }

 private:
  Scenario* scenario_;
  ScenarioStats* stats_;
  std::atomic<int64_t> in_flight_{0};
  absl::Mutex mu_;
};

}  // namespace

void Driver::SleepUntil(int64_t deadline_nanos, absl::Duration sample_interval) {
  int64_t interval = std::max<int64_t>(absl::ToInt64Nanoseconds(sample_interval), 100000000);
  for (;;) {
    int64_t now = NowNanos();
    if (now >= deadline_nanos) return;
    int64_t step = std::min(interval, deadline_nanos - now);
    absl::SleepFor(absl::Nanoseconds(step));
    if (NowNanos() < deadline_nanos) watcher_->RecordMemory(watcher_->Take());
  }
}

bool Driver::RunClosed(Scenario* scenario, const RunSpec& spec, ScenarioStats* stats,
                       Snapshot* before, Snapshot* after) {
  int64_t now = NowNanos();
  int64_t start = now + absl::ToInt64Nanoseconds(spec.warmup);
  int64_t end = start + absl::ToInt64Nanoseconds(spec.duration);
  stats->SetWindow(start, end);
  auto* loop = new ClosedLoop(scenario, stats, client_, spec.concurrency);
  for (int slot = 0; slot < spec.concurrency; ++slot) loop->Launch(slot);
  SleepUntil(start, spec.memory_sample_interval);
  *before = watcher_->Take();
  SleepUntil(end, spec.memory_sample_interval);
  *after = watcher_->Take();
  loop->Stop();
  // Calls still out past their deadline would touch the loop after it is freed: leak it.
  if (!loop->WaitDrained(client_->options().deadline + absl::Seconds(5))) return false;
  delete loop;
  return true;
}

bool Driver::RunOpen(Scenario* scenario, const RunSpec& spec, ScenarioStats* stats,
                     Snapshot* before, Snapshot* after) {
  auto* loop_owner = new OpenLoop(scenario, stats);
  OpenLoop& loop = *loop_owner;
  const double interval = 1e9 / spec.rate;
  int64_t first = NowNanos() + 1000000;
  int64_t start = first + absl::ToInt64Nanoseconds(spec.warmup);
  int64_t end = start + absl::ToInt64Nanoseconds(spec.duration);
  stats->SetWindow(start, end);
  bool measuring = false;
  int64_t next_memory_sample = start + absl::ToInt64Nanoseconds(spec.memory_sample_interval);
  for (uint64_t i = 0;; ++i) {
    int64_t intended = first + static_cast<int64_t>(static_cast<double>(i) * interval);
    if (intended >= end) break;
    int64_t now = NowNanos();
    if (intended > now) {
      absl::SleepFor(absl::Nanoseconds(intended - now));
      now = NowNanos();
    }
    if (!measuring && now >= start) {
      *before = watcher_->Take();
      measuring = true;
    }
    if (measuring && now >= next_memory_sample) {
      watcher_->RecordMemory(watcher_->Take());
      next_memory_sample += absl::ToInt64Nanoseconds(spec.memory_sample_interval);
    }
    if (loop.in_flight() >= spec.max_in_flight) {
      if (stats->InWindow(intended)) stats->ops_not_sent.fetch_add(1);
      continue;
    }
    loop.Launch(i, intended);
  }
  int64_t now = NowNanos();
  if (now < end) absl::SleepFor(absl::Nanoseconds(end - now));
  *after = watcher_->Take();
  if (!measuring) *before = *after;
  if (!loop.WaitDrained(client_->options().deadline + absl::Seconds(5))) return false;
  delete loop_owner;
  return true;
}

RunResult Driver::Run(Scenario* scenario, const RunSpec& spec) {
  RunResult result;
  result.scenario = scenario->name();
  result.baseline = scenario->baseline();
  result.spec = spec;
  result.channels = client_->options().channels;
  if (spec.mode == RunSpec::Mode::kOpen && !scenario->SupportsOpenLoop()) {
    result.skipped = "open loop is not supported by this scenario";
    return result;
  }
  auto* stats = new ScenarioStats(scenario->methods());
  Snapshot before, after;
  bool drained = spec.mode == RunSpec::Mode::kClosed
                     ? RunClosed(scenario, spec, stats, &before, &after)
                     : RunOpen(scenario, spec, stats, &before, &after);
  watcher_->RecordMemory(after);
  result.cpu = ProcWatcher::Between(before, after);
  Summarize(*stats, absl::ToDoubleSeconds(spec.duration), &result);
  if (drained) {
    delete stats;
  } else {
    result.undrained = true;  // stats stay allocated: late calls still record into them
  }
  return result;
}

absl::Duration Driver::WaitQuiet(double cores, absl::Duration max_wait) {
  absl::Time begin = absl::Now();
  Snapshot prev = watcher_->Take();
  int quiet_samples = 0;
  while (absl::Now() - begin < max_wait) {
    absl::SleepFor(absl::Milliseconds(500));
    Snapshot cur = watcher_->Take();
    CpuUse use = ProcWatcher::Between(prev, cur);
    double others = 0;
    for (const auto& [name, c] : use.cores) {
      if (name != "load") others += c;
    }
    quiet_samples = others < cores ? quiet_samples + 1 : 0;
    if (quiet_samples >= 2) break;
    prev = cur;
  }
  return absl::Now() - begin;
}

absl::Status Driver::Probe(Scenario* scenario) {
  struct State {
    absl::Mutex mu;
    bool done = false;
    bool ok = false;
  };
  auto state = std::make_shared<State>();
  auto* stats = new ScenarioStats(scenario->methods());
  stats->SetWindow(0, std::numeric_limits<int64_t>::max());
  OpContext ctx;
  ctx.seq = scenario->NextSeq();
  ctx.stats = stats;
  scenario->StartOp(ctx, [state](bool ok) {
    absl::MutexLock lock(&state->mu);
    state->done = true;
    state->ok = ok;
  });
  bool finished;
  {
    absl::MutexLock lock(&state->mu);
    finished = state->mu.AwaitWithTimeout(absl::Condition(&state->done),
                                          client_->options().deadline + absl::Seconds(2));
  }
  if (!finished) return absl::DeadlineExceededError("the probe call did not finish");
  std::string problems;
  for (const MethodStats* m : stats->methods()) {
    for (const auto& [code, n] : m->errors()) {
      if (!problems.empty()) problems += ", ";
      problems += m->name() + ": " + code;
      if (code == "UNAVAILABLE") problems += " (service not reachable)";
      if (code == "UNIMPLEMENTED") problems += " (the service does not implement it yet)";
      if (code == "NOT_FOUND") problems += " (data not seeded? run `clerkship-load seed`)";
    }
  }
  delete stats;
  if (!problems.empty()) return absl::FailedPreconditionError(problems);
  if (!state->ok) return absl::FailedPreconditionError("the probe operation failed");
  return absl::OkStatus();
}

void Summarize(const ScenarioStats& stats, double seconds, RunResult* out) {
  out->seconds = seconds;
  out->ops_ok = stats.ops_ok.load();
  out->ops_failed = stats.ops_failed.load();
  out->ops_not_sent = stats.ops_not_sent.load();
  out->ops_per_second = seconds > 0 ? static_cast<double>(out->ops_ok) / seconds : 0;
  const Histogram& h = stats.op_latency();
  out->p50 = h.PercentileNanos(0.50);
  out->p90 = h.PercentileNanos(0.90);
  out->p99 = h.PercentileNanos(0.99);
  out->p999 = h.PercentileNanos(0.999);
  out->max = h.max_nanos();
  out->mean = h.mean_nanos();
  uint64_t calls = 0;
  for (const MethodStats* m : stats.methods()) {
    MethodResult r;
    r.name = m->name();
    r.ok = m->ok();
    r.errors = m->errors();
    r.per_second = seconds > 0 ? static_cast<double>(r.ok) / seconds : 0;
    r.p50 = m->latency().PercentileNanos(0.50);
    r.p90 = m->latency().PercentileNanos(0.90);
    r.p99 = m->latency().PercentileNanos(0.99);
    r.p999 = m->latency().PercentileNanos(0.999);
    r.max = m->latency().max_nanos();
    r.mean = m->latency().mean_nanos();
    calls += r.ok;
    out->methods.push_back(std::move(r));
  }
  out->calls_per_second = seconds > 0 ? static_cast<double>(calls) / seconds : 0;
}

}  // namespace clerkship::bench
