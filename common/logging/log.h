#pragma once

// Structured logs: one JSON object per line on stdout with timestamp, severity, service,
// message and any extra fields. Personal data (emails, scores, passport numbers) must never
// be passed here.
//
// Writing never makes request threads wait for stdout: a line is formatted by the caller and
// appended to a bounded in-memory buffer that a writer thread empties in large writes, at least
// every 100 ms (at once for warnings, errors and a full batch). When the buffer is full (stdout
// cannot keep up), debug and info lines are dropped and counted (a warning reports how many);
// warning and error lines are never dropped. Error lines are written through at once (after
// everything queued before them), so they survive a crash that follows.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"

namespace clerkship::log {

enum class Severity { kDebug, kInfo, kWarning, kError };

using Field = std::pair<absl::string_view, std::string>;

void SetService(absl::string_view service);
void SetMinSeverity(Severity severity);
// "debug", "info", "warning", "error"; false if unknown.
bool ParseSeverity(absl::string_view text, Severity* out);
// True when lines of this severity are written (lets callers skip building fields).
bool Enabled(Severity severity);

void Write(Severity severity, absl::string_view message, std::initializer_list<Field> fields = {});
inline void Debug(absl::string_view m, std::initializer_list<Field> f = {}) { Write(Severity::kDebug, m, f); }
inline void Info(absl::string_view m, std::initializer_list<Field> f = {}) { Write(Severity::kInfo, m, f); }
inline void Warning(absl::string_view m, std::initializer_list<Field> f = {}) { Write(Severity::kWarning, m, f); }
inline void Error(absl::string_view m, std::initializer_list<Field> f = {}) { Write(Severity::kError, m, f); }

// Writes out everything logged so far (also done at exit and on every error line).
void Flush();
// Bytes of log lines the buffer holds at most before info/debug lines are dropped.
void SetBufferLimit(size_t bytes);
// Info/debug lines dropped so far because the buffer was full.
uint64_t DroppedLines();

// JSON string escaping (also used by the access log).
void AppendJsonString(std::string* out, absl::string_view s);

}  // namespace clerkship::log
