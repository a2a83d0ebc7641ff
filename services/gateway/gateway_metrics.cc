#include "services/gateway/gateway_metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "absl/strings/str_cat.h"

namespace clerkship::gateway {

GatewayMetrics::GatewayMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("clerkship_gateway_http_requests_total")
                   .Help("HTTP requests by route and status code")
                   .Register(*registry_);
  latency_ = &prometheus::BuildHistogram()
                  .Name("clerkship_gateway_http_request_duration_seconds")
                  .Help("Time from a complete request to its response, by route")
                  .Register(*registry_);
  connections_ = &prometheus::BuildGauge()
                      .Name("clerkship_gateway_http_connections")
                      .Help("Open HTTP connections")
                      .Register(*registry_)
                      .Add({});
  streams_ = &prometheus::BuildGauge()
                  .Name("clerkship_gateway_sse_streams")
                  .Help("Open server-sent event streams")
                  .Register(*registry_)
                  .Add({});
}

void GatewayMetrics::RecordRequest(const std::string& route, int http_status,
                                   absl::Duration latency) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  requests_->Add({{"route", route}, {"code", absl::StrCat(http_status)}}).Increment();
  latency_->Add({{"route", route}}, kBuckets).Observe(absl::ToDoubleSeconds(latency));
}

std::string GatewayMetrics::Render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace clerkship::gateway
