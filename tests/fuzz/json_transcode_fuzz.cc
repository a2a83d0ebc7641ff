// libFuzzer entry point for JSON transcoding. The input is "<route label>\n<body>": the label
// picks a route of the catalog service in the gateway's route table, e.g.
// "POST /v1/rotations" (any other first line picks one by its length); the rest is the
// request's JSON body (for a route without a body: its query string). The body is
// transcoded into the route's request message, which is printed back as JSON; that JSON must
// read back and print the same. Errors are rendered as the client would see them. Nothing
// may crash, hang or leak.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "services/gateway/http_errors.h"
#include "services/gateway/route_table.h"
#include "services/gateway/transcoder.h"
#include "tests/fuzz/fuzz_routes.h"

namespace {

using clerkship::gateway::Route;
using clerkship::gateway::RouteTable;

const RouteTable& Table() { return clerkship::fuzz::CatalogRouteTable(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view all(reinterpret_cast<const char*>(data), size);
  size_t newline = all.find('\n');
  absl::string_view label = all.substr(0, newline);
  std::string input(newline == absl::string_view::npos ? "" : all.substr(newline + 1));
  const auto& routes = Table().routes();
  const Route* picked = routes[label.size() % routes.size()].get();
  for (const auto& r : routes) {
    if (r->label == label) picked = r.get();
  }
  const Route& route = *picked;
  std::unique_ptr<google::protobuf::Message> request(route.request_prototype->New());
  clerkship::gateway::PathBindings no_bindings;
  absl::Status status =
      route.body.empty()
          ? clerkship::gateway::BuildRequest(route, no_bindings, input, "", request.get())
          : clerkship::gateway::BuildRequest(route, no_bindings, "", input, request.get());
  if (!status.ok()) {
    (void)clerkship::gateway::ErrorFromStatus(status);
    return 0;
  }
  // What was accepted prints as JSON, and that JSON reads back to the same message.
  Route whole;  // no response_body_field: prints the whole message
  absl::StatusOr<std::string> json =
      clerkship::gateway::ResponseToJson(whole, *request, /*emit_defaults=*/false);
  if (!json.ok()) return 0;
  std::unique_ptr<google::protobuf::Message> again(route.request_prototype->New());
  absl::Status reparsed = clerkship::gateway::ParseJsonBody(*json, again.get(), "");
  if (!reparsed.ok()) return 0;
  absl::StatusOr<std::string> json_again =
      clerkship::gateway::ResponseToJson(whole, *again, /*emit_defaults=*/false);
  if (!json_again.ok() || *json_again != *json) {
    // Printing and parsing disagree: a value the client sent would not survive a round trip.
    std::abort();
  }
  return 0;
}
