// libFuzzer entry point for the gateway's request path without the network: raw bytes are
// parsed as an HTTP/1.1 request with the server's limits, the target is routed through the
// route tables (the platform's protos and the test service with '**', additional bindings and
// nested query fields), and the query and JSON body are transcoded into the request message,
// which is then printed back as JSON. Errors are rendered as the client would see them. The
// target text is also parsed as a path template. Nothing here may crash, hang or leak.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "services/gateway/fronted_services.h"
#include "services/gateway/http_errors.h"
#include "services/gateway/path_template.h"
#include "services/gateway/route_table.h"
#include "services/gateway/transcoder.h"
#include "testdata/gateway_test.pb.h"

namespace {

namespace http = boost::beast::http;
using clerkship::gateway::FrontedService;
using clerkship::gateway::RouteMatch;
using clerkship::gateway::RouteTable;

const std::vector<std::unique_ptr<RouteTable>>& Tables() {
  static const auto* tables = [] {
    auto* out = new std::vector<std::unique_ptr<RouteTable>>();
    out->push_back(*RouteTable::Build(
        clerkship::gateway::FrontedServices({"clerkship.catalog.v1.CatalogService"})));
    FrontedService things;
    things.service =
        clerkship::gatewaytest::v1::Thing::descriptor()->file()->FindServiceByName("ThingService");
    things.backend = "things";
    out->push_back(*RouteTable::Build({things}));
    return out;
  }();
  return *tables;
}

void Transcode(const RouteTable& table, const std::string& method, const std::string& target,
               const std::string& body) {
  std::string path = target.substr(0, target.find_first_of("?#"));
  std::string query;
  if (size_t q = target.find('?'); q != std::string::npos) {
    query = target.substr(q + 1);
    query = query.substr(0, query.find('#'));
  }
  RouteMatch match = table.Match(method, path);
  if (match.outcome != RouteMatch::Outcome::kFound) return;
  std::unique_ptr<google::protobuf::Message> request(match.route->request_prototype->New());
  absl::Status status =
      clerkship::gateway::BuildRequest(*match.route, match.bindings, query, body, request.get());
  if (!status.ok()) {
    (void)clerkship::gateway::ErrorFromStatus(status);
    return;
  }
  std::string bytes;
  (void)request->SerializeToString(&bytes);
  clerkship::gateway::Route plain;  // prints the whole message
  (void)clerkship::gateway::ResponseToJson(plain, *request, /*emit_defaults=*/true);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 << 10);
  parser.body_limit(64 << 10);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = parser.put(boost::asio::buffer(data, size), ec);
  (void)used;
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  const auto& request = parser.get();
  std::string method(request.method_string());
  std::string target(request.target());
  for (const auto& table : Tables()) Transcode(*table, method, target, request.body());

  auto parsed = clerkship::gateway::PathTemplate::Parse(target);
  if (parsed.ok()) {
    clerkship::gateway::PathBindings bindings;
    if (clerkship::gateway::IsValidPercentEncoding(target)) (void)parsed->Match(target, &bindings);
  }
  return 0;
}
