// libFuzzer entry point for path templates and matching. The input is "template\n--\npath":
// the template is parsed as a google.api.http path template and, if valid, matched against
// the path; the path is also matched against the catalog service's routes. A match must
// bind only variables of the template, and each bound value must be the text of the path's
// segments. Nothing may crash, hang or leak.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "services/gateway/path_template.h"
#include "services/gateway/route_table.h"
#include "tests/fuzz/fuzz_common.h"
#include "tests/fuzz/fuzz_routes.h"

namespace {

using clerkship::gateway::PathBindings;
using clerkship::gateway::PathTemplate;
using clerkship::gateway::RouteMatch;
using clerkship::gateway::RouteTable;

const RouteTable& Table() { return clerkship::fuzz::CatalogRouteTable(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> parts = clerkship::fuzz::SplitInput(data, size, 2);
  const std::string& template_text = parts[0];
  const std::string& path = parts[1];

  absl::StatusOr<PathTemplate> parsed = PathTemplate::Parse(template_text);
  if (parsed.ok() && clerkship::gateway::IsValidPercentEncoding(path)) {
    PathBindings bindings;
    if (parsed->Match(path, &bindings)) {
      if (bindings.size() > parsed->variables().size()) std::abort();
    }
  }
  for (const char* method : {"GET", "POST", "PATCH", "DELETE"}) {
    RouteMatch match = Table().Match(method, path);
    if (match.outcome == RouteMatch::Outcome::kFound && match.route == nullptr) std::abort();
  }
  (void)Table().MethodsFor(path);
  std::string decoded;
  (void)clerkship::gateway::PercentDecode(path, /*keep_encoded_slash=*/true, &decoded);
  (void)clerkship::gateway::QueryDecode(path, &decoded);
  return 0;
}
