#include "services/notification/notification_runtime.h"

#include <grpcpp/grpcpp.h>

#include "common/logging/log.h"
#include "common/tls/tls.h"

namespace clerkship::notification {

NotificationRuntime::NotificationRuntime(NotificationOptions options, Clock* clock,
                                         prometheus::Registry* registry,
                                         std::unique_ptr<RecipientDirectory> directory,
                                         std::unique_ptr<RoundResultsSource> rounds)
    : options_(std::move(options)),
      clock_(clock),
      directory_(std::move(directory)),
      rounds_(std::move(rounds)) {
  metrics_ = std::make_unique<NotificationMetrics>(registry);
  redis_ = redis::Client::Create(options_.redis);
  if (directory_ == nullptr) {
    if (options_.applicant_addr.empty()) {
      directory_ = std::make_unique<NoRecipientDirectory>();
    } else {
      directory_ = std::make_unique<GrpcRecipientDirectory>(
          tls::CreateChannel(options_.applicant_addr, tls::DefaultClientTls()),
          options_.backend_timeout, options_.profile_cache_ttl);
    }
  }
  if (rounds_ == nullptr) {
    if (options_.matching_addr.empty()) {
      rounds_ = std::make_unique<NoRoundResults>();
    } else {
      rounds_ = std::make_unique<GrpcRoundResults>(
          tls::CreateChannel(options_.matching_addr, tls::DefaultClientTls()),
          options_.backend_timeout);
    }
  }
  if (!options_.smtp.url.empty()) email_ = NewCurlEmailSender(options_.smtp);
  webhook_ = NewCurlWebhookSender(options_.webhook);

  options_.store.dead_letter_stream = options_.dead_letter_stream;
  store_ = std::make_unique<RedisNotificationStore>(redis_.get(), options_.store);
  options_.composer.email_channel = email_ != nullptr;
  composer_ = std::make_unique<NotificationComposer>(store_.get(), directory_.get(),
                                                     rounds_.get(), clock_, options_.composer,
                                                     metrics_.get());
  hub_ = std::make_unique<LiveStreamHub>(options_.redis, store_.get(), options_.hub, metrics_.get());
  options_.delivery.email_from = options_.smtp.from;
  delivery_ = std::make_unique<DeliveryWorker>(store_.get(), directory_.get(), email_.get(),
                                               webhook_.get(), clock_, options_.delivery,
                                               metrics_.get());
  reminders_ = std::make_unique<ReminderScheduler>(store_.get(), composer_.get(), clock_,
                                                   options_.reminders);
  service_ = std::make_unique<NotificationServiceImpl>(store_.get(), composer_.get(), hub_.get(),
                                                       directory_.get(), clock_, options_.service);
  for (const std::string& stream : options_.streams) {
    events::ConsumerOptions co;
    co.stream = stream;
    co.group = options_.consumer_group;
    co.consumer = options_.consumer_name;
    co.dead_letter_stream = options_.dead_letter_stream;
    co.start_id = options_.consumer_start_id;
    co.batch_size = options_.consumer_batch_size;
    co.claim_idle = options_.claim_idle;
    co.claim_interval = options_.claim_interval;
    co.max_deliveries = options_.max_deliveries;
    consumers_.emplace_back(
        stream, std::make_unique<events::StreamConsumer>(
                    options_.redis, co, [this](const events::StreamEntry& entry) {
                      return composer_->HandleEntry(entry);
                    }));
  }
}

NotificationRuntime::~NotificationRuntime() { Stop(); }

void NotificationRuntime::Start() {
  if (started_) return;
  started_ = true;
  if (email_ == nullptr) {
    log::Warning("e-mail delivery is off: --smtp_url is not set");
  }
  hub_->Start();
  if (options_.run_consumers) {
    for (auto& [stream, consumer] : consumers_) consumer->Start();
  }
  if (options_.run_delivery) delivery_->Start();
  if (options_.run_reminders) reminders_->Start();
}

void NotificationRuntime::BeginShutdown() { hub_->CloseAll(); }

void NotificationRuntime::Stop() {
  if (!started_) return;
  started_ = false;
  for (auto& [stream, consumer] : consumers_) consumer->Stop();
  reminders_->Stop();
  delivery_->Stop();
  hub_->Stop();
}

events::StreamConsumer* NotificationRuntime::consumer(const std::string& stream) {
  for (auto& [name, consumer] : consumers_) {
    if (name == stream) return consumer.get();
  }
  return nullptr;
}

}  // namespace clerkship::notification
