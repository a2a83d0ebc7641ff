#pragma once

// Structured logs: one JSON object per line on stdout with timestamp, severity, service,
// message and any extra fields. Personal data (emails, scores, passport numbers) must never
// be passed here.

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

void Write(Severity severity, absl::string_view message, std::initializer_list<Field> fields = {});
inline void Debug(absl::string_view m, std::initializer_list<Field> f = {}) { Write(Severity::kDebug, m, f); }
inline void Info(absl::string_view m, std::initializer_list<Field> f = {}) { Write(Severity::kInfo, m, f); }
inline void Warning(absl::string_view m, std::initializer_list<Field> f = {}) { Write(Severity::kWarning, m, f); }
inline void Error(absl::string_view m, std::initializer_list<Field> f = {}) { Write(Severity::kError, m, f); }

// JSON string escaping (also used by the access log).
void AppendJsonString(std::string* out, absl::string_view s);

}  // namespace clerkship::log
