#pragma once

// Command-line flags with environment-variable equivalents, validated at start.
//
// Every option `--redis_addr` can also be set as CLERKSHIP_REDIS_ADDR; a flag on the command
// line wins over the environment, which wins over the default. Parse() checks every value
// and reports all problems at once; ParseOrExit() prints them and exits with status 2, so a
// misconfigured pod fails fast with a readable message instead of misbehaving later.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace clerkship {

class Config {
 public:
  // Returns an error message for a bad value, or an empty string when the value is fine.
  using Check = std::function<std::string(const std::string&)>;
  using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

  Config(std::string program, std::string description);

  void AddString(const std::string& name, const std::string& default_value,
                 const std::string& help, Check check = nullptr);
  void AddInt(const std::string& name, int64_t default_value, const std::string& help,
              int64_t min, int64_t max);
  // Durations are written like "250ms", "5s", "72h".
  void AddDuration(const std::string& name, absl::Duration default_value,
                   const std::string& help, absl::Duration min = absl::ZeroDuration());
  void AddBool(const std::string& name, bool default_value, const std::string& help);

  // Parses argv (flags as --name=value or --name value) and the environment.
  absl::Status Parse(int argc, const char* const* argv, const EnvLookup& env);
  absl::Status Parse(int argc, const char* const* argv);
  // Parses, prints usage on --help (exit 0) or the problems on error (exit 2).
  void ParseOrExit(int argc, const char* const* argv);

  std::string GetString(const std::string& name) const;
  int64_t GetInt(const std::string& name) const;
  absl::Duration GetDuration(const std::string& name) const;
  bool GetBool(const std::string& name) const;

  // "--name / CLERKSHIP_NAME  default  help" for every option.
  std::string Usage() const;
  static std::string EnvName(const std::string& flag_name);

 private:
  enum class Type { kString, kInt, kDuration, kBool };
  struct Option {
    Type type;
    std::string default_value;
    std::string help;
    Check check;
    std::string value;
  };
  void Add(const std::string& name, Type type, std::string default_value, std::string help,
           Check check);
  const Option& Find(const std::string& name, Type type) const;
  std::string Validate(const Option& option, const std::string& value) const;

  std::string program_;
  std::string description_;
  std::vector<std::string> order_;
  std::map<std::string, Option> options_;
};

// Reusable checks.
std::string CheckHostPort(const std::string& value);       // "host:port", port 1..65535
std::string CheckHostPortList(const std::string& value);   // comma-separated host:port, may be empty
std::string CheckNonEmpty(const std::string& value);
std::string CheckOneOf(const std::string& value, const std::vector<std::string>& allowed);

}  // namespace clerkship
