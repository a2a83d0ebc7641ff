#include "common/logging/log.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace clerkship::log {
namespace {

// The buffer between the threads that log and the thread that writes. Never destroyed:
// the writer thread and atexit handlers may use it while static objects are torn down.
struct Sink {
  // Guards `pending`. Held only to append a formatted line or to take the whole buffer.
  std::mutex mu;
  std::condition_variable wake;
  std::string pending;
  bool urgent = false;  // pending holds a warning, or a batch's worth
  size_t limit = 8 << 20;
  std::atomic<uint64_t> dropped{0};
  uint64_t dropped_reported = 0;  // writer thread only (under write_mu)
  // Held while writing to stdout, and while taking a batch out of `pending`, so that
  // batches reach stdout in the order they were taken.
  std::mutex write_mu;
};

void WriterLoop(Sink* sink);

// Info and debug lines wait for the writer's next round (at most this long) unless this
// much is buffered: a wakeup per line would cost more than formatting it. Warnings and
// errors wake it at once.
constexpr auto kWriteInterval = std::chrono::milliseconds(100);
constexpr size_t kWriteBatchBytes = 64 * 1024;

Sink& TheSink() {
  static Sink* sink = [] {
    auto* s = new Sink;
    std::thread(WriterLoop, s).detach();
    std::atexit([] { Flush(); });
    return s;
  }();
  return *sink;
}

std::string& ServiceName() {
  static std::string name = "clerkship";
  return name;
}

std::atomic<int>& MinSeverity() {
  static std::atomic<int> min{static_cast<int>(Severity::kInfo)};
  return min;
}

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kDebug: return "DEBUG";
    case Severity::kInfo: return "INFO";
    case Severity::kWarning: return "WARNING";
    case Severity::kError: return "ERROR";
  }
  return "INFO";
}

// "2026-01-31T12:34:56.123456Z". The part up to the seconds is formatted once per second
// and thread (time-zone formatting costs far more than the rest of a log line).
void AppendTimestamp(std::string* out) {
  thread_local int64_t cached_second = -1;
  thread_local char cached[24];
  int64_t micros = absl::GetCurrentTimeNanos() / 1000;
  int64_t second = micros / 1000000;
  if (second != cached_second) {
    std::string s = absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second),
                                     absl::UTCTimeZone());
    size_t n = std::min(s.size(), sizeof(cached) - 1);
    s.copy(cached, n);
    cached[n] = '\0';
    cached_second = second;
  }
  out->append(cached);
  char frac[9];
  int64_t us = micros % 1000000;
  frac[0] = '.';
  for (int i = 6; i >= 1; --i) {
    frac[i] = static_cast<char>('0' + us % 10);
    us /= 10;
  }
  frac[7] = 'Z';
  out->append(frac, 8);
}

std::string FormatLine(Severity severity, absl::string_view message,
                       std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(160);
  line += "{\"timestamp\":\"";
  AppendTimestamp(&line);
  line += "\",\"severity\":\"";
  line += SeverityName(severity);
  line += "\",\"service\":";
  AppendJsonString(&line, ServiceName());
  line += ",\"message\":";
  AppendJsonString(&line, message);
  for (const Field& f : fields) {
    line += ',';
    AppendJsonString(&line, f.first);
    line += ':';
    AppendJsonString(&line, f.second);
  }
  line += "}\n";
  return line;
}

void WriteOut(absl::string_view text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// Under sink->write_mu: reports lines dropped since the last report.
void ReportDropped(Sink* sink) {
  uint64_t dropped = sink->dropped.load(std::memory_order_relaxed);
  if (dropped == sink->dropped_reported) return;
  uint64_t since = dropped - sink->dropped_reported;
  sink->dropped_reported = dropped;
  WriteOut(FormatLine(Severity::kWarning, "log lines dropped: stdout is too slow",
                      {{"dropped", absl::StrCat(since)},
                       {"dropped_total", absl::StrCat(dropped)}}));
}

void WriterLoop(Sink* sink) {
  std::string batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(sink->mu);
      sink->wake.wait_for(lock, kWriteInterval, [sink] { return sink->urgent; });
      sink->urgent = false;
      if (sink->pending.empty()) continue;
    }
    std::lock_guard<std::mutex> write_lock(sink->write_mu);
    {
      std::lock_guard<std::mutex> lock(sink->mu);
      batch.swap(sink->pending);
    }
    WriteOut(batch);
    ReportDropped(sink);
    batch.clear();
    if (batch.capacity() > (1u << 20)) batch.shrink_to_fit();
  }
}

}  // namespace

void SetService(absl::string_view service) { ServiceName() = std::string(service); }

void SetMinSeverity(Severity severity) { MinSeverity() = static_cast<int>(severity); }

bool Enabled(Severity severity) { return static_cast<int>(severity) >= MinSeverity(); }

bool ParseSeverity(absl::string_view text, Severity* out) {
  if (text == "debug") *out = Severity::kDebug;
  else if (text == "info") *out = Severity::kInfo;
  else if (text == "warning") *out = Severity::kWarning;
  else if (text == "error") *out = Severity::kError;
  else return false;
  return true;
}

void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
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

void Write(Severity severity, absl::string_view message, std::initializer_list<Field> fields) {
  if (!Enabled(severity)) return;
  std::string line = FormatLine(severity, message, fields);
  Sink& sink = TheSink();
  if (severity == Severity::kError) {
    // Written through, behind whatever was queued before it.
    std::lock_guard<std::mutex> write_lock(sink.write_mu);
    std::string batch;
    {
      std::lock_guard<std::mutex> lock(sink.mu);
      batch.swap(sink.pending);
    }
    batch += line;
    WriteOut(batch);
    return;
  }
  bool wake;
  {
    std::lock_guard<std::mutex> lock(sink.mu);
    if (severity < Severity::kWarning && sink.pending.size() + line.size() > sink.limit) {
      sink.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    bool below_batch = sink.pending.size() < kWriteBatchBytes;
    sink.pending += line;
    wake = !sink.urgent && (severity >= Severity::kWarning ||
                            (below_batch && sink.pending.size() >= kWriteBatchBytes));
    if (wake) sink.urgent = true;
  }
  if (wake) sink.wake.notify_one();
}

void Flush() {
  Sink& sink = TheSink();
  std::lock_guard<std::mutex> write_lock(sink.write_mu);
  std::string batch;
  {
    std::lock_guard<std::mutex> lock(sink.mu);
    batch.swap(sink.pending);
  }
  WriteOut(batch);
  ReportDropped(&sink);
}

void SetBufferLimit(size_t bytes) {
  Sink& sink = TheSink();
  std::lock_guard<std::mutex> lock(sink.mu);
  sink.limit = bytes;
}

uint64_t DroppedLines() { return TheSink().dropped.load(std::memory_order_relaxed); }

}  // namespace clerkship::log
