#include "common/logging/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace clerkship::log {
namespace {

std::mutex& OutputMutex() {
  static std::mutex mu;
  return mu;
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

}  // namespace

void SetService(absl::string_view service) { ServiceName() = std::string(service); }

void SetMinSeverity(Severity severity) { MinSeverity() = static_cast<int>(severity); }

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
  if (static_cast<int>(severity) < MinSeverity()) return;
  std::string line = "{\"timestamp\":\"";
  line += absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone());
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
  std::lock_guard<std::mutex> lock(OutputMutex());
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace clerkship::log
