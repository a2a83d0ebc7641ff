#pragma once

// Prometheus metrics of the notification service. Constructed with a null registry (tests,
// tools) every method does nothing.

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>

namespace clerkship::notification {

class NotificationMetrics {
 public:
  explicit NotificationMetrics(prometheus::Registry* registry) {
    if (registry == nullptr) return;
    events_ = &prometheus::BuildCounter()
                   .Name("notification_events_total")
                   .Help("Events consumed, by outcome (notified, duplicate, ignored, failed).")
                   .Register(*registry);
    created_ = &prometheus::BuildCounter()
                    .Name("notification_created_total")
                    .Help("Notifications written to inboxes, by origin (event, reminder, api).")
                    .Register(*registry);
    deliveries_ = &prometheus::BuildCounter()
                       .Name("notification_delivery_attempts_total")
                       .Help("Delivery attempts and deferrals, by channel and outcome.")
                       .Register(*registry);
    streams_ = &prometheus::BuildGauge()
                    .Name("notification_live_streams")
                    .Help("StreamNotifications calls connected to this process.")
                    .Register(*registry)
                    .Add({});
  }

  void Event(const std::string& outcome) {
    if (events_ != nullptr) events_->Add({{"outcome", outcome}}).Increment();
  }
  void Created(const std::string& origin) {
    if (created_ != nullptr) created_->Add({{"origin", origin}}).Increment();
  }
  void Delivery(const std::string& channel, const std::string& outcome) {
    if (deliveries_ != nullptr) deliveries_->Add({{"channel", channel}, {"outcome", outcome}}).Increment();
  }
  void Streams(double n) {
    if (streams_ != nullptr) streams_->Set(n);
  }

 private:
  prometheus::Family<prometheus::Counter>* events_ = nullptr;
  prometheus::Family<prometheus::Counter>* created_ = nullptr;
  prometheus::Family<prometheus::Counter>* deliveries_ = nullptr;
  prometheus::Gauge* streams_ = nullptr;
};

}  // namespace clerkship::notification
