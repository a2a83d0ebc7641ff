#pragma once

// Small helpers shared by the libFuzzer entry points in this directory.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace clerkship::fuzz {

// Splits fuzzer input into parts at "\n--\n" (at most `max_parts`; the last one takes the
// rest), so one input can carry a template and a path, or a token and a key.
inline std::vector<std::string> SplitInput(const uint8_t* data, size_t size, size_t max_parts) {
  std::vector<std::string> parts;
  absl::string_view rest(reinterpret_cast<const char*>(data), size);
  while (parts.size() + 1 < max_parts) {
    size_t at = rest.find("\n--\n");
    if (at == absl::string_view::npos) break;
    parts.emplace_back(rest.substr(0, at));
    rest.remove_prefix(at + 4);
  }
  parts.emplace_back(rest);
  while (parts.size() < max_parts) parts.emplace_back();
  return parts;
}

}  // namespace clerkship::fuzz
