#include "common/config/config.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace clerkship {

Config::Config(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {
  AddBool("help", false, "print this help and exit");
}

void Config::Add(const std::string& name, Type type, std::string default_value,
                 std::string help, Check check) {
  if (options_.count(name) == 0) order_.push_back(name);
  Option& option = options_[name];
  option.type = type;
  option.default_value = default_value;
  option.help = std::move(help);
  option.check = std::move(check);
  option.value = std::move(default_value);
}

void Config::AddString(const std::string& name, const std::string& default_value,
                       const std::string& help, Check check) {
  Add(name, Type::kString, default_value, help, std::move(check));
}

void Config::AddInt(const std::string& name, int64_t default_value, const std::string& help,
                    int64_t min, int64_t max) {
  Add(name, Type::kInt, absl::StrCat(default_value), help,
      [min, max](const std::string& v) -> std::string {
        int64_t n;
        if (!absl::SimpleAtoi(v, &n)) return "must be an integer";
        if (n < min || n > max) return absl::StrCat("must be between ", min, " and ", max);
        return "";
      });
}

void Config::AddDuration(const std::string& name, absl::Duration default_value,
                         const std::string& help, absl::Duration min) {
  Add(name, Type::kDuration, absl::FormatDuration(default_value), help,
      [min](const std::string& v) -> std::string {
        absl::Duration d;
        if (!absl::ParseDuration(v, &d)) return "must be a duration such as 250ms, 5s or 72h";
        if (d < min) return absl::StrCat("must be at least ", absl::FormatDuration(min));
        return "";
      });
}

void Config::AddBool(const std::string& name, bool default_value, const std::string& help) {
  Add(name, Type::kBool, default_value ? "true" : "false", help,
      [](const std::string& v) -> std::string {
        bool b;
        if (!absl::SimpleAtob(v, &b)) return "must be true or false";
        return "";
      });
}

std::string Config::EnvName(const std::string& flag_name) {
  return "CLERKSHIP_" + absl::AsciiStrToUpper(flag_name);
}

std::string Config::Validate(const Option& option, const std::string& value) const {
  return option.check ? option.check(value) : "";
}

absl::Status Config::Parse(int argc, const char* const* argv) {
  return Parse(argc, argv, [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  });
}

absl::Status Config::Parse(int argc, const char* const* argv, const EnvLookup& env) {
  std::vector<std::string> problems;
  std::map<std::string, std::string> from_flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      problems.push_back(absl::StrCat("unexpected argument '", arg, "'"));
      continue;
    }
    std::string body = arg.substr(2);
    std::string name, value;
    size_t eq = body.find('=');
    bool has_value = eq != std::string::npos;
    name = has_value ? body.substr(0, eq) : body;
    auto it = options_.find(name);
    if (it == options_.end()) {
      problems.push_back(absl::StrCat("unknown flag --", name));
      continue;
    }
    if (has_value) {
      value = body.substr(eq + 1);
    } else if (it->second.type == Type::kBool) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      problems.push_back(absl::StrCat("flag --", name, " needs a value"));
      continue;
    }
    from_flags[name] = value;
  }
  for (const std::string& name : order_) {
    Option& option = options_[name];
    std::string source;
    if (auto f = from_flags.find(name); f != from_flags.end()) {
      option.value = f->second;
      source = "--" + name;
    } else if (auto e = env(EnvName(name)); e.has_value()) {
      option.value = *e;
      source = EnvName(name);
    } else {
      option.value = option.default_value;
      source = "default of --" + name;
    }
    std::string problem = Validate(option, option.value);
    if (!problem.empty()) {
      problems.push_back(absl::StrCat(source, "='", option.value, "': ", problem));
    }
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
  }
  return absl::OkStatus();
}

void Config::ParseOrExit(int argc, const char* const* argv) {
  absl::Status status = Parse(argc, argv);
  if (status.ok() && GetBool("help")) {
    std::cout << Usage();
    std::exit(0);
  }
  if (!status.ok()) {
    std::cerr << program_ << ": invalid configuration:\n" << status.message() << "\n\n"
              << "Run " << program_ << " --help for the list of settings.\n";
    std::exit(2);
  }
}

const Config::Option& Config::Find(const std::string& name, Type type) const {
  auto it = options_.find(name);
  if (it == options_.end() || it->second.type != type) {
    std::cerr << "internal error: option --" << name << " is not declared with this type\n";
    std::abort();
  }
  return it->second;
}

std::string Config::GetString(const std::string& name) const {
  return Find(name, Type::kString).value;
}

int64_t Config::GetInt(const std::string& name) const {
  int64_t n = 0;
  (void)absl::SimpleAtoi(Find(name, Type::kInt).value, &n);
  return n;
}

absl::Duration Config::GetDuration(const std::string& name) const {
  absl::Duration d;
  (void)absl::ParseDuration(Find(name, Type::kDuration).value, &d);
  return d;
}

bool Config::GetBool(const std::string& name) const {
  bool b = false;
  (void)absl::SimpleAtob(Find(name, Type::kBool).value, &b);
  return b;
}

std::string Config::Usage() const {
  std::string out = absl::StrCat(program_, ": ", description_, "\n\nSettings (flag / environment variable, default):\n");
  for (const std::string& name : order_) {
    const Option& o = options_.at(name);
    absl::StrAppend(&out, "  --", name, " / ", EnvName(name), "  (default: '", o.default_value,
                    "')\n      ", o.help, "\n");
  }
  return out;
}

std::string CheckHostPort(const std::string& value) {
  size_t colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0) return "must be host:port";
  int port;
  if (!absl::SimpleAtoi(value.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return "port must be a number from 1 to 65535";
  }
  return "";
}

std::string CheckHostPortList(const std::string& value) {
  if (value.empty()) return "";
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    std::string problem = CheckHostPort(std::string(absl::StripAsciiWhitespace(part)));
    if (!problem.empty()) return absl::StrCat("'", part, "' ", problem);
  }
  return "";
}

std::string CheckNonEmpty(const std::string& value) {
  return absl::StripAsciiWhitespace(value).empty() ? "must not be empty" : "";
}

std::string CheckOneOf(const std::string& value, const std::vector<std::string>& allowed) {
  for (const std::string& a : allowed) {
    if (value == a) return "";
  }
  return absl::StrCat("must be one of: ", absl::StrJoin(allowed, ", "));
}

}  // namespace clerkship
