#include "services/gateway/path_template.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace clerkship::gateway {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || !(absl::ascii_isalpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '_')) return false;
  }
  return true;
}

bool IsLiteral(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c == '/' || c == '{' || c == '}' || c == '*' || c == '=' || c == ':' || c == '?' ||
        c == '#' || c == '%' || static_cast<unsigned char>(c) <= ' ') {
      return false;
    }
  }
  return true;
}

absl::Status Invalid(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("path template \"", text, "\": ", why));
}

}  // namespace

bool IsValidPercentEncoding(absl::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (i + 2 >= text.size()) return false;
    if (HexValue(text[i + 1]) < 0 || HexValue(text[i + 2]) < 0) return false;
    i += 2;
  }
  return true;
}

bool PercentDecode(absl::string_view text, bool keep_encoded_slash, std::string* out) {
  out->clear();
  out->reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '%') {
      out->push_back(c);
      continue;
    }
    if (i + 2 >= text.size()) return false;
    int hi = HexValue(text[i + 1]);
    int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return false;
    char decoded = static_cast<char>(hi * 16 + lo);
    if (keep_encoded_slash && decoded == '/') {
      out->append(text.data() + i, 3);
    } else {
      out->push_back(decoded);
    }
    i += 2;
  }
  return true;
}

bool QueryDecode(absl::string_view text, std::string* out) {
  std::string plus_as_space(text);
  for (char& c : plus_as_space) {
    if (c == '+') c = ' ';
  }
  return PercentDecode(plus_as_space, /*keep_encoded_slash=*/false, out);
}

absl::StatusOr<PathTemplate> PathTemplate::Parse(absl::string_view text) {
  PathTemplate t;
  t.text_ = std::string(text);
  if (text.empty() || text[0] != '/') return Invalid(text, "must start with '/'");

  // The verb is a ':' after the last '/' and outside any variable.
  absl::string_view body = text;
  {
    int depth = 0;
    size_t colon = absl::string_view::npos;
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (c == '{') ++depth;
      if (c == '}') --depth;
      if (depth == 0 && c == '/') colon = absl::string_view::npos;
      if (depth == 0 && c == ':') colon = i;
    }
    if (depth != 0) return Invalid(text, "unbalanced braces");
    if (colon != absl::string_view::npos) {
      t.verb_ = std::string(text.substr(colon + 1));
      if (!IsLiteral(t.verb_)) return Invalid(text, "bad verb");
      body = text.substr(0, colon);
    }
  }

  auto add_segment = [&](absl::string_view token) -> absl::Status {
    Segment segment;
    if (token == "*") {
      segment.kind = Segment::Kind::kSingleWildcard;
    } else if (token == "**") {
      if (t.multi_wildcard_index_ >= 0) return Invalid(text, "more than one '**'");
      segment.kind = Segment::Kind::kMultiWildcard;
      t.multi_wildcard_index_ = static_cast<int>(t.segments_.size());
    } else if (IsLiteral(token)) {
      segment.literal = std::string(token);
      ++t.literal_count_;
    } else {
      return Invalid(text, absl::StrCat("bad segment \"", token, "\""));
    }
    t.segments_.push_back(std::move(segment));
    return absl::OkStatus();
  };

  size_t pos = 1;
  while (true) {
    if (pos >= body.size()) return Invalid(text, "empty segment");
    if (body[pos] == '{') {
      size_t close = body.find('}', pos);
      if (close == absl::string_view::npos) return Invalid(text, "unclosed variable");
      absl::string_view inside = body.substr(pos + 1, close - pos - 1);
      if (absl::StrContains(inside, '{')) return Invalid(text, "nested variable");
      size_t eq = inside.find('=');
      absl::string_view field_path = inside.substr(0, eq);
      absl::string_view pattern = eq == absl::string_view::npos ? "*" : inside.substr(eq + 1);
      for (absl::string_view part : absl::StrSplit(field_path, '.')) {
        if (!IsIdentifier(part)) return Invalid(text, "bad field path in variable");
      }
      for (const Variable& v : t.variables_) {
        if (v.field_path == field_path) return Invalid(text, "variable bound twice");
      }
      Variable variable;
      variable.field_path = std::string(field_path);
      variable.first_segment = static_cast<int>(t.segments_.size());
      for (absl::string_view token : absl::StrSplit(pattern, '/')) {
        if (absl::Status s = add_segment(token); !s.ok()) return s;
      }
      variable.end_segment = static_cast<int>(t.segments_.size());
      t.variables_.push_back(std::move(variable));
      pos = close + 1;
    } else {
      size_t slash = body.find('/', pos);
      absl::string_view token = body.substr(
          pos, slash == absl::string_view::npos ? absl::string_view::npos : slash - pos);
      if (absl::Status s = add_segment(token); !s.ok()) return s;
      pos += token.size();
    }
    if (pos == body.size()) break;
    if (body[pos] != '/') return Invalid(text, "expected '/' after a variable");
    ++pos;
  }
  if (t.multi_wildcard_index_ >= 0 &&
      t.multi_wildcard_index_ != static_cast<int>(t.segments_.size()) - 1) {
    return Invalid(text, "'**' must be the last segment");
  }
  return t;
}

bool PathTemplate::Match(absl::string_view raw_path, PathBindings* bindings) const {
  if (raw_path.empty() || raw_path[0] != '/') return false;
  absl::string_view path = raw_path.substr(1);
  if (!verb_.empty()) {
    if (path.size() < verb_.size() + 1 || !absl::EndsWith(path, verb_) ||
        path[path.size() - verb_.size() - 1] != ':') {
      return false;
    }
    path.remove_suffix(verb_.size() + 1);
  }
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  const int n_template = static_cast<int>(segments_.size());
  const int n_path = static_cast<int>(parts.size());

  // Which path segments each template segment covers: [begin[i], begin[i+1]).
  std::vector<int> begin(n_template + 1);
  if (multi_wildcard_index_ < 0) {
    if (n_path != n_template) return false;
    for (int i = 0; i <= n_template; ++i) begin[i] = i;
  } else {
    // '**' is last and takes whatever is left, possibly nothing.
    if (n_path < n_template - 1) return false;
    for (int i = 0; i < n_template; ++i) begin[i] = i;
    begin[n_template] = n_path;
    // An empty path after the prefix ("/v1/x/") splits into one empty part: zero segments.
    if (n_path == n_template && parts.back().empty()) begin[n_template] = n_path - 1;
  }

  std::string decoded;
  for (int i = 0; i < n_template; ++i) {
    const Segment& segment = segments_[i];
    switch (segment.kind) {
      case Segment::Kind::kLiteral:
        if (!PercentDecode(parts[begin[i]], false, &decoded) || decoded != segment.literal) {
          return false;
        }
        break;
      case Segment::Kind::kSingleWildcard:
        if (parts[begin[i]].empty()) return false;
        break;
      case Segment::Kind::kMultiWildcard:
        for (int p = begin[i]; p < begin[i + 1]; ++p) {
          if (parts[p].empty()) return false;
        }
        break;
    }
  }

  PathBindings found;
  for (const Variable& v : variables_) {
    int from = begin[v.first_segment];
    int to = begin[v.end_segment];
    bool single = v.end_segment - v.first_segment == 1 &&
                  segments_[v.first_segment].kind == Segment::Kind::kSingleWildcard;
    std::string raw = absl::StrJoin(parts.begin() + from, parts.begin() + to, "/");
    std::string value;
    if (!PercentDecode(raw, /*keep_encoded_slash=*/!single, &value)) return false;
    found.emplace_back(v.field_path, std::move(value));
  }
  for (auto& b : found) bindings->push_back(std::move(b));
  return true;
}

}  // namespace clerkship::gateway
