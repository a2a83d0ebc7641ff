#pragma once

// google.api.http path templates (google/api/http.proto):
//
//   Template = "/" Segments [ Verb ] ;
//   Segments = Segment { "/" Segment } ;
//   Segment  = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//   Verb     = ":" LITERAL ;
//
// Matching works on the raw (still percent-encoded) request path, split at '/', so an encoded
// slash never splits a segment. Decoding follows the spec: a variable of one segment is fully
// percent-decoded; a variable spanning several segments is decoded except for "%2F", which
// stays encoded so the value's own slashes remain distinguishable.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clerkship::gateway {

// (field path as in the template, e.g. "rotation.name"; decoded value)
using PathBindings = std::vector<std::pair<std::string, std::string>>;

class PathTemplate {
 public:
  struct Segment {
    enum class Kind { kLiteral, kSingleWildcard, kMultiWildcard };
    Kind kind = Kind::kLiteral;
    std::string literal;  // kLiteral only
  };
  struct Variable {
    std::string field_path;
    int first_segment = 0;  // index into segments()
    int end_segment = 0;    // one past the last
  };

  static absl::StatusOr<PathTemplate> Parse(absl::string_view text);

  // Matches a raw request path (starting with '/', no query string, percent-encoding intact,
  // already checked by IsValidPercentEncoding) and appends the variables' values to
  // *bindings. On no match *bindings is left as it was.
  bool Match(absl::string_view raw_path, PathBindings* bindings) const;

  const std::string& text() const { return text_; }
  const std::vector<Segment>& segments() const { return segments_; }
  const std::vector<Variable>& variables() const { return variables_; }
  const std::string& verb() const { return verb_; }
  int literal_count() const { return literal_count_; }
  bool has_multi_wildcard() const { return multi_wildcard_index_ >= 0; }

 private:
  std::string text_;
  std::vector<Segment> segments_;
  std::vector<Variable> variables_;
  std::string verb_;
  int literal_count_ = 0;
  int multi_wildcard_index_ = -1;
};

// True when every '%' starts a "%XX" hex escape.
bool IsValidPercentEncoding(absl::string_view text);

// Decodes %XX escapes. keep_encoded_slash leaves "%2F"/"%2f" as they are. Returns false on a
// malformed escape.
bool PercentDecode(absl::string_view text, bool keep_encoded_slash, std::string* out);

// Decodes an application/x-www-form-urlencoded component ('+' is a space).
bool QueryDecode(absl::string_view text, std::string* out);

}  // namespace clerkship::gateway
