#pragma once

// Prometheus metrics of the gateway, served by the gateway itself at GET /metrics (port 8080):
//   clerkship_gateway_http_requests_total{route, code}
//   clerkship_gateway_http_request_duration_seconds{route}   (histogram)
//   clerkship_gateway_http_connections                       (gauge, open connections)
//   clerkship_gateway_sse_streams                            (gauge, open event streams)
// `route` is the route label ("GET /v1/{name=sites/*}") or one of "/healthz", "/readyz",
// "/metrics", "/openapi.json", "unmatched", so the label set stays small whatever clients send.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "absl/time/time.h"

namespace clerkship::gateway {

class GatewayMetrics {
 public:
  GatewayMetrics();

  void RecordRequest(const std::string& route, int http_status, absl::Duration latency);
  prometheus::Gauge& connections() { return *connections_; }
  prometheus::Gauge& streams() { return *streams_; }

  // The text exposition format.
  std::string Render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Gauge* connections_;
  prometheus::Gauge* streams_;
};

}  // namespace clerkship::gateway
