// The notification service end to end inside one process: a real Redis, a real SMTP
// server, a real HTTP endpoint for webhooks, an in-process applicant service for
// profiles, and the gRPC server on port 0. Time is a ManualClock the tests move.

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <functional>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "common/server/server_runner.h"
#include "common/util/clock.h"
#include "services/notification/notification_runtime.h"
#include "tests/services/notification/notification_test_util.h"
#include "tests/services/notification/test_servers.h"
#include "tests/support/grpc_test_util.h"
#include "tests/support/test_redis.h"

namespace clerkship::notification {
namespace {

using clerkship::events::v1::Event;
using clerkship::testing::AsAdmin;
using clerkship::testing::AsService;
using clerkship::testing::ReasonOf;
using clerkship::testing::SetIdentity;
using clerkship::testing::TestRedis;
using clerkship::testing::ViolatedFields;
using testing::ApplicationEvent;
using testing::FakeApplicantService;
using testing::OfferSpec;
using testing::Publish;
using testing::SmtpSink;
using testing::WaitUntil;
using testing::WebhookServer;

constexpr char kSecret[] = "whsec-0123456789abcdef";

absl::Time Utc(int y, int mo, int d, int h, int mi, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

// Written independently of the service's signing code, as a receiver would.
std::string ExpectedSignature(const std::string& secret, const std::string& timestamp,
                              const std::string& body) {
  std::string data = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) absl::StrAppendFormat(&hex, "%02x", mac[i]);
  return "sha256=" + hex;
}

class FakeRounds final : public RoundResultsSource {
 public:
  absl::StatusOr<std::vector<RoundOutcome>> ListOutcomes(const std::string& round) override {
    if (round != "rounds/spring-2027") return absl::NotFoundError("no such round");
    return std::vector<RoundOutcome>{{"applicants/amina", true}, {"applicants/bob", false}};
  }
};

class NotificationServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_server_ = TestRedis::Start();
    ASSERT_NE(redis_server_, nullptr);
    redis::ClientOptions ro;
    ro.address = redis_server_->address();
    client_ = redis::Client::Create(ro);
    ASSERT_TRUE(client_->WaitHealthy(absl::Seconds(5)));
    ASSERT_TRUE(smtp_.Start());
    ASSERT_TRUE(webhook_.Start());
    applicants_ = std::make_unique<FakeApplicantService>();
    applicants_->Put(Profile("amina", "Amina", "amina@example.org", "Asia/Kolkata"));
    applicants_->Put(Profile("bob", "Bob", "bob@example.org", "America/Chicago"));
    clock_ = std::make_unique<ManualClock>(Utc(2027, 1, 15, 15, 0));  // 10:00 in New York
  }

  void TearDown() override {
    if (second_) second_->Stop();
    second_.reset();
    if (runtime_) runtime_->BeginShutdown();
    if (runner_) runner_->Shutdown();
    if (runtime_) runtime_->Stop();
    stub_.reset();
    runner_.reset();
    runtime_.reset();
  }

  static clerkship::applicant::v1::Applicant Profile(const std::string& id, const std::string& given,
                                                     const std::string& email,
                                                     const std::string& zone) {
    clerkship::applicant::v1::Applicant a;
    a.set_name("applicants/" + id);
    a.set_given_name(given);
    a.set_family_name("Tester");
    a.set_email(email);
    a.set_time_zone(zone);
    return a;
  }

  NotificationOptions Options() {
    NotificationOptions o;
    o.redis.address = redis_server_->address();
    o.redis.health_check_interval = absl::Milliseconds(100);
    o.consumer_name = "test-1";
    o.claim_idle = absl::Milliseconds(300);
    o.claim_interval = absl::Milliseconds(50);
    o.max_deliveries = 3;
    o.smtp.url = absl::StrCat("smtp://127.0.0.1:", smtp_.port());
    o.smtp.from = "Clerkship <no-reply@clerkship.test>";
    o.smtp.timeout = absl::Seconds(5);
    o.webhook.allow_private_networks = true;
    o.webhook.timeout = absl::Seconds(5);
    o.service.settings_policy.allow_http_webhooks = true;
    o.service.stream_finish_grace = absl::Milliseconds(500);
    o.delivery.poll_interval = absl::Milliseconds(10);
    o.delivery.backoff_initial = absl::Minutes(1);
    o.delivery.backoff_max = absl::Minutes(10);
    o.reminders.poll_interval = absl::Milliseconds(10);
    o.applicant_addr = applicants_->address();
    o.matching_addr = "";
    return o;
  }

  void StartService(const std::function<void(NotificationOptions&)>& tweak = nullptr,
                    std::unique_ptr<RoundResultsSource> rounds = nullptr) {
    NotificationOptions o = Options();
    if (tweak) tweak(o);
    runtime_ = std::make_unique<NotificationRuntime>(o, clock_.get(), nullptr, nullptr,
                                                     std::move(rounds));
    ServerOptions so;
    so.service_name = "notification";
    so.listen_address = "127.0.0.1:0";
    so.drain_period = absl::ZeroDuration();
    so.shutdown_deadline = absl::Seconds(2);
    runner_ = std::make_unique<ServerRunner>(so);
    runner_->AddService(runtime_->service(), v1::NotificationService::service_full_name());
    runner_->TrackRedisHealth(runtime_->redis());
    ASSERT_TRUE(runner_->Start().ok());
    ASSERT_TRUE(runtime_->redis()->WaitHealthy(absl::Seconds(5)));
    runtime_->Start();
    channel_ = grpc::CreateChannel(runner_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::NotificationService::NewStub(channel_);
  }

  static void AsApplicant(grpc::ClientContext* c, const std::string& id) {
    SetIdentity(c, "applicant", "applicants/" + id);
  }

  grpc::Status UpdateSettings(const std::string& id, std::vector<std::string> paths,
                              const std::function<void(v1::NotificationSettings*)>& fill,
                              v1::NotificationSettings* out = nullptr) {
    grpc::ClientContext c;
    AsApplicant(&c, id);
    v1::UpdateNotificationSettingsRequest r;
    r.mutable_notification_settings()->set_name("applicants/" + id + "/notificationSettings");
    fill(r.mutable_notification_settings());
    for (auto& p : paths) r.mutable_update_mask()->add_paths(p);
    v1::NotificationSettings ignored;
    return stub_->UpdateNotificationSettings(&c, r, out ? out : &ignored);
  }

  v1::ListNotificationsResponse List(const std::string& id, int page_size = 100,
                                     bool unread_only = false, const std::string& token = "",
                                     grpc::Status* status = nullptr) {
    grpc::ClientContext c;
    AsApplicant(&c, id);
    v1::ListNotificationsRequest r;
    r.set_parent("applicants/" + id);
    r.set_page_size(page_size);
    r.set_unread_only(unread_only);
    r.set_page_token(token);
    v1::ListNotificationsResponse response;
    grpc::Status s = stub_->ListNotifications(&c, r, &response);
    if (status) *status = s;
    return response;
  }

  v1::ListNotificationsResponse WaitInbox(const std::string& id, int n) {
    v1::ListNotificationsResponse inbox;
    WaitUntil([&] {
      inbox = List(id);
      return inbox.notifications_size() >= n;
    });
    return inbox;
  }

  std::vector<v1::Delivery> Deliveries(const std::string& notification) {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::ListDeliveriesRequest r;
    r.set_notification(notification);
    v1::ListDeliveriesResponse response;
    EXPECT_TRUE(stub_->ListDeliveries(&c, r, &response).ok());
    return {response.deliveries().begin(), response.deliveries().end()};
  }

  std::optional<v1::Delivery> DeliveryOf(const std::string& notification,
                                         v1::Delivery::Channel channel) {
    for (const v1::Delivery& d : Deliveries(notification)) {
      if (d.channel() == channel) return d;
    }
    return std::nullopt;
  }

  // Waits until the delivery reaches `state` and returns it.
  v1::Delivery WaitDelivery(const std::string& notification, v1::Delivery::Channel channel,
                            v1::Delivery::State state, int attempts = -1) {
    v1::Delivery found;
    bool ok = WaitUntil([&] {
      std::optional<v1::Delivery> d = DeliveryOf(notification, channel);
      if (!d) return false;
      found = *d;
      return d->state() == state && (attempts < 0 || d->attempts_size() == attempts);
    });
    EXPECT_TRUE(ok) << "delivery never reached " << v1::Delivery::State_Name(state)
                    << "; last seen: " << found.ShortDebugString();
    return found;
  }

  grpc::Status Send(const std::string& recipient, const std::string& title,
                    const std::string& request_id, v1::Notification* out,
                    const std::string& html = "") {
    grpc::ClientContext c;
    AsService(&c);
    v1::SendNotificationRequest r;
    r.set_recipient("applicants/" + recipient);
    r.set_type("admin.announcement");
    r.set_title(title);
    r.set_body("Body of " + title);
    r.set_html_body(html);
    r.set_request_id(request_id);
    return stub_->SendNotification(&c, r, out);
  }

  std::vector<v1::DeadLetter> DeadLetters() {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::ListDeadLettersResponse response;
    EXPECT_TRUE(stub_->ListDeadLetters(&c, v1::ListDeadLettersRequest(), &response).ok());
    return {response.dead_letters().begin(), response.dead_letters().end()};
  }

  grpc::Status Replay(const std::string& name, v1::ReplayDeadLetterResponse* out) {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::ReplayDeadLetterRequest r;
    r.set_name(name);
    return stub_->ReplayDeadLetter(&c, r, out);
  }

  void EnableWebhook(const std::string& id, bool email) {
    ASSERT_TRUE(UpdateSettings(id, {"webhook_enabled", "webhook_url", "webhook_secret", "email_enabled"},
                               [&](v1::NotificationSettings* s) {
                                 s->set_webhook_enabled(true);
                                 s->set_webhook_url(webhook_.url());
                                 s->set_webhook_secret(kSecret);
                                 s->set_email_enabled(email);
                               })
                    .ok());
  }

  std::unique_ptr<TestRedis> redis_server_;
  std::unique_ptr<redis::Client> client_;
  SmtpSink smtp_;
  WebhookServer webhook_;
  std::unique_ptr<FakeApplicantService> applicants_;
  std::unique_ptr<ManualClock> clock_;
  std::unique_ptr<NotificationRuntime> runtime_;
  std::unique_ptr<NotificationRuntime> second_;
  std::unique_ptr<ServerRunner> runner_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::NotificationService::Stub> stub_;
};

TEST_F(NotificationServiceTest, OfferedEventReachesInboxEmailAndSignedWebhook) {
  StartService();
  EnableWebhook("amina", /*email=*/true);
  OfferSpec spec;
  spec.offer_expires = Utc(2027, 1, 20, 22, 0);
  Event offered = ApplicationEvent(spec);
  ASSERT_FALSE(Publish(client_.get(), "app:events", offered).empty());

  v1::ListNotificationsResponse inbox = WaitInbox("amina", 1);
  ASSERT_EQ(inbox.notifications_size(), 1);
  EXPECT_EQ(inbox.unread_count(), 1);
  const v1::Notification n = inbox.notifications(0);
  EXPECT_EQ(n.type(), "application.offered");
  EXPECT_EQ(n.recipient(), "applicants/amina");
  EXPECT_EQ(n.subject(), "applications/app1");
  EXPECT_EQ(n.source_event(), offered.id());
  EXPECT_FALSE(n.read());
  EXPECT_EQ(n.title(), "Offer: Internal Medicine Clerkship at Mercy General Hospital");
  EXPECT_TRUE(absl::StartsWith(n.body(), "Hi Amina,")) << n.body();
  // The deadline in Amina's own zone (her profile says Asia/Kolkata).
  EXPECT_TRUE(absl::StrContains(n.body(), "Accept by: Thu, Jan 21, 2027 at 3:30 AM IST")) << n.body();
  EXPECT_TRUE(absl::StrContains(n.body(), "Dates: Mon, Mar 1, 2027 to Fri, Mar 26, 2027"));

  // The e-mail: to the profile address, subject = title, both parts = the notification.
  ASSERT_TRUE(smtp_.WaitForMessages(1, absl::Seconds(10)));
  testing::ReceivedMail mail = smtp_.messages()[0];
  EXPECT_EQ(mail.recipients, std::vector<std::string>{"amina@example.org"});
  EXPECT_EQ(mail.Header("Subject"), n.title());
  EXPECT_EQ(mail.Header("To"), "<amina@example.org>");
  EXPECT_EQ(mail.Part("text/plain"), n.body());
  EXPECT_EQ(mail.Part("text/html"), n.html_body());

  // The webhook: the notification as JSON, signed with Amina's secret.
  ASSERT_TRUE(webhook_.WaitForRequests(1, absl::Seconds(10)));
  testing::ReceivedRequest hook = webhook_.requests()[0];
  EXPECT_EQ(hook.method, "POST");
  EXPECT_EQ(hook.path, "/hook");
  EXPECT_EQ(hook.headers["content-type"], "application/json");
  const std::string timestamp = hook.headers["x-clerkship-timestamp"];
  EXPECT_EQ(timestamp, absl::StrCat(absl::ToUnixSeconds(clock_->Now())));
  EXPECT_EQ(hook.headers["x-clerkship-signature"], ExpectedSignature(kSecret, timestamp, hook.body));
  EXPECT_NE(hook.headers["x-clerkship-signature"], ExpectedSignature("wrong-secret-0000", timestamp, hook.body));
  EXPECT_EQ(hook.headers["x-clerkship-delivery"], n.name() + "/deliveries/webhook");
  v1::Notification from_json;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(hook.body, &from_json).ok()) << hook.body;
  EXPECT_EQ(from_json.name(), n.name());
  EXPECT_EQ(from_json.title(), n.title());

  // Both attempts are on record.
  v1::Delivery email = WaitDelivery(n.name(), v1::Delivery::EMAIL, v1::Delivery::DELIVERED, 1);
  EXPECT_EQ(email.destination(), "amina@example.org");
  EXPECT_EQ(email.attempts(0).error(), "");
  EXPECT_GE(email.attempts(0).response_code(), 200);
  EXPECT_LT(email.attempts(0).response_code(), 300);
  v1::Delivery webhook = WaitDelivery(n.name(), v1::Delivery::WEBHOOK, v1::Delivery::DELIVERED, 1);
  EXPECT_EQ(webhook.destination(), webhook_.url());
  EXPECT_EQ(webhook.attempts(0).response_code(), 200);
  EXPECT_TRUE(webhook.has_deliver_time());
  EXPECT_EQ(smtp_.messages().size(), 1u);
  EXPECT_EQ(webhook_.requests().size(), 1u);
}

TEST_F(NotificationServiceTest, QuietHoursDelayEmailButNotTheInbox) {
  clock_->Set(Utc(2027, 1, 15, 4, 0));  // 23:00 the evening before, in New York
  StartService();
  ASSERT_TRUE(UpdateSettings("amina", {"time_zone", "quiet_hours_start", "quiet_hours_end"},
                             [](v1::NotificationSettings* s) {
                               s->set_time_zone("America/New_York");
                               s->set_quiet_hours_start("22:00");
                               s->set_quiet_hours_end("07:00");
                             })
                  .ok());
  OfferSpec spec;
  spec.to_state = "ACCEPTED";
  spec.from_state = "OFFERED";
  spec.actor = "applicants/amina";
  Publish(client_.get(), "app:events", ApplicationEvent(spec));

  v1::ListNotificationsResponse inbox = WaitInbox("amina", 1);  // the inbox does not wait
  const std::string name = inbox.notifications(0).name();
  EXPECT_EQ(inbox.notifications(0).type(), "application.accepted");

  v1::Delivery deferred = WaitDelivery(name, v1::Delivery::EMAIL, v1::Delivery::DEFERRED);
  EXPECT_EQ(FromProtoTime(deferred.next_attempt_time()), Utc(2027, 1, 15, 12, 0));  // 07:00 EST
  EXPECT_EQ(deferred.attempts_size(), 0);
  EXPECT_TRUE(smtp_.messages().empty());

  clock_->Set(Utc(2027, 1, 15, 11, 59));  // still quiet: nothing goes out
  clock_->Set(Utc(2027, 1, 15, 12, 0, 1));
  ASSERT_TRUE(smtp_.WaitForMessages(1, absl::Seconds(10)));
  EXPECT_EQ(smtp_.messages()[0].Header("Subject"), inbox.notifications(0).title());
  WaitDelivery(name, v1::Delivery::EMAIL, v1::Delivery::DELIVERED, 1);
}

TEST_F(NotificationServiceTest, WebhookFailingTwiceThenSucceedingIsDeliveredOnce) {
  StartService();
  webhook_.ScriptResponses({503, 500, 200});
  EnableWebhook("amina", /*email=*/false);
  Publish(client_.get(), "app:events", ApplicationEvent(OfferSpec()));
  const std::string name = WaitInbox("amina", 1).notifications(0).name();

  for (int attempt = 1; attempt <= 2; ++attempt) {
    v1::Delivery d = WaitDelivery(name, v1::Delivery::WEBHOOK, v1::Delivery::RETRYING, attempt);
    absl::Duration wait = FromProtoTime(d.next_attempt_time()) - clock_->Now();
    // Exponential backoff with jitter: 50-100% of 1 min, then of 2 min.
    EXPECT_GE(wait, absl::Seconds(30) * (1 << (attempt - 1)));
    EXPECT_LE(wait, absl::Minutes(1) * (1 << (attempt - 1)));
    clock_->Set(FromProtoTime(d.next_attempt_time()));
  }
  v1::Delivery done = WaitDelivery(name, v1::Delivery::WEBHOOK, v1::Delivery::DELIVERED, 3);
  EXPECT_EQ(done.attempts(0).response_code(), 503);
  EXPECT_EQ(done.attempts(1).response_code(), 500);
  EXPECT_EQ(done.attempts(2).response_code(), 200);
  EXPECT_FALSE(done.has_next_attempt_time());

  std::vector<testing::ReceivedRequest> requests = webhook_.requests();
  ASSERT_EQ(requests.size(), 3u);
  int successes = 0;
  for (auto& r : requests) {
    EXPECT_EQ(r.headers["x-clerkship-delivery"], name + "/deliveries/webhook");
    EXPECT_EQ(r.headers["x-clerkship-signature"],
              ExpectedSignature(kSecret, r.headers["x-clerkship-timestamp"], r.body));
    successes += r.answered == 200;
  }
  EXPECT_EQ(successes, 1);
  // Nothing left in the queue to send it again, and no e-mail was planned.
  EXPECT_EQ(redis_server_->Command({"ZCARD", "ntf:delivery_due"}), "0");
  EXPECT_EQ(Deliveries(name).size(), 1u);
}

TEST_F(NotificationServiceTest, WebhookClientErrorIsNotRetried) {
  StartService();
  webhook_.ScriptResponses({410});
  EnableWebhook("amina", /*email=*/false);
  Publish(client_.get(), "app:events", ApplicationEvent(OfferSpec()));
  const std::string name = WaitInbox("amina", 1).notifications(0).name();
  v1::Delivery failed = WaitDelivery(name, v1::Delivery::WEBHOOK, v1::Delivery::FAILED, 1);
  EXPECT_EQ(failed.attempts(0).response_code(), 410);
  EXPECT_TRUE(absl::StrContains(failed.attempts(0).error(), "410"));
  EXPECT_EQ(redis_server_->Command({"ZCARD", "ntf:delivery_due"}), "0");
  EXPECT_EQ(webhook_.requests().size(), 1u);
}

TEST_F(NotificationServiceTest, RedeliveredEventProducesOneNotification) {
  StartService();
  OfferSpec spec;
  spec.to_state = "SUBMITTED";
  spec.from_state = "STATE_UNSPECIFIED";
  Event submitted = ApplicationEvent(spec);
  Publish(client_.get(), "app:events", submitted);
  Publish(client_.get(), "app:events", submitted);  // at-least-once: the same event again
  OfferSpec sentinel = spec;
  sentinel.applicant = "bob";
  sentinel.application = "app2";
  Publish(client_.get(), "app:events", ApplicationEvent(sentinel));
  WaitInbox("bob", 1);  // handled after both copies, in stream order
  v1::ListNotificationsResponse inbox = List("amina");
  ASSERT_EQ(inbox.notifications_size(), 1);
  EXPECT_EQ(inbox.unread_count(), 1);
  EXPECT_EQ(inbox.notifications(0).source_event(), submitted.id());
  ASSERT_TRUE(smtp_.WaitForMessages(2, absl::Seconds(10)));
  std::multiset<std::string> recipients;
  for (const auto& m : smtp_.messages()) recipients.insert(m.recipients.begin(), m.recipients.end());
  EXPECT_EQ(recipients, (std::multiset<std::string>{"amina@example.org", "bob@example.org"}));
}

TEST_F(NotificationServiceTest, PoisonEventIsDeadLetteredAndCanBeReplayed) {
  StartService();
  std::string entry = Publish(client_.get(), "app:events", "application.offered", "\xff\xff\xff garbage");
  ASSERT_FALSE(entry.empty());
  std::vector<v1::DeadLetter> dead;
  ASSERT_TRUE(WaitUntil([&] { return (dead = DeadLetters()).size() == 1; }));
  EXPECT_EQ(dead[0].source_stream(), "app:events");
  EXPECT_EQ(dead[0].source_entry_id(), entry);
  EXPECT_EQ(dead[0].event_type(), "application.offered");
  EXPECT_EQ(dead[0].event(), "\xff\xff\xff garbage");
  EXPECT_EQ(dead[0].event_id(), "");
  EXPECT_EQ(dead[0].consumer_group(), "notification");
  EXPECT_TRUE(absl::StrContains(dead[0].error(), "does not parse")) << dead[0].error();
  EXPECT_TRUE(dead[0].has_dead_time());

  v1::ReplayDeadLetterResponse replayed;
  ASSERT_TRUE(Replay(dead[0].name(), &replayed).ok());
  EXPECT_EQ(replayed.stream(), "app:events");
  EXPECT_NE(replayed.stream_entry_id(), entry);
  // Still poison: after max_deliveries it comes back, as a new dead letter.
  std::vector<v1::DeadLetter> again;
  ASSERT_TRUE(WaitUntil([&] {
    again = DeadLetters();
    return again.size() == 1 && again[0].name() != dead[0].name();
  }));
  EXPECT_EQ(again[0].source_entry_id(), replayed.stream_entry_id());
  grpc::Status gone = Replay(dead[0].name(), &replayed);
  EXPECT_EQ(gone.error_code(), grpc::StatusCode::NOT_FOUND);

  // Admin only; names are checked.
  grpc::ClientContext c;
  AsService(&c);
  v1::ListDeadLettersResponse ignored;
  EXPECT_EQ(stub_->ListDeadLetters(&c, v1::ListDeadLettersRequest(), &ignored).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Replay("deadLetters/../../x", &replayed).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(NotificationServiceTest, EventThatFailsUntilFixedIsReplayedIntoOneNotification) {
  StartService();
  // Amina's stored settings are unreadable, so her events cannot be processed.
  redis_server_->Command({"HSET", "ntf:settings:amina", "record", "\xff\xff\xff", "etag", "x"});
  OfferSpec spec;
  spec.offer_expires = clock_->Now() + absl::Hours(72);
  Event offered = ApplicationEvent(spec);
  Publish(client_.get(), "app:events", offered);
  std::vector<v1::DeadLetter> dead;
  ASSERT_TRUE(WaitUntil([&] { return (dead = DeadLetters()).size() == 1; }));
  EXPECT_EQ(dead[0].event_id(), offered.id());
  EXPECT_EQ(List("amina").notifications_size(), 0);

  redis_server_->Command({"DEL", "ntf:settings:amina"});  // the operator repairs it
  v1::ReplayDeadLetterResponse replayed;
  ASSERT_TRUE(Replay(dead[0].name(), &replayed).ok());
  v1::ListNotificationsResponse inbox = WaitInbox("amina", 1);
  EXPECT_EQ(inbox.notifications(0).source_event(), offered.id());
  EXPECT_TRUE(DeadLetters().empty());

  // The same event arriving once more changes nothing.
  Publish(client_.get(), "app:events", offered);
  OfferSpec sentinel;
  sentinel.applicant = "bob";
  sentinel.application = "app2";
  Publish(client_.get(), "app:events", ApplicationEvent(sentinel));
  WaitInbox("bob", 1);
  EXPECT_EQ(List("amina").notifications_size(), 1);
  EXPECT_EQ(redis_server_->Command({"ZCARD", "ntf:reminders"}), "1");  // Amina's offer, once
}

TEST_F(NotificationServiceTest, LiveStreamReceivesNewNotificationsFromAnyReplica) {
  StartService();
  v1::Notification old;
  ASSERT_TRUE(Send("amina", "Before the stream", "old-1", &old).ok());

  grpc::ClientContext context;
  AsApplicant(&context, "amina");
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::StreamNotificationsRequest request;
  request.set_parent("applicants/amina");
  auto reader = stub_->StreamNotifications(&context, request);
  reader->WaitForInitialMetadata();  // subscribed from here on

  // Someone else's notification is not sent to Amina; hers is.
  OfferSpec for_bob;
  for_bob.applicant = "bob";
  for_bob.application = "app2";
  Publish(client_.get(), "app:events", ApplicationEvent(for_bob));
  Event offered = ApplicationEvent(OfferSpec());
  absl::Time published = absl::Now();
  Publish(client_.get(), "app:events", offered);
  v1::Notification got;
  ASSERT_TRUE(reader->Read(&got));
  std::cout << "live stream latency: " << absl::FormatDuration(absl::Now() - published) << "\n";
  EXPECT_EQ(got.recipient(), "applicants/amina");
  EXPECT_EQ(got.source_event(), offered.id());
  EXPECT_EQ(got.type(), "application.offered");
  EXPECT_FALSE(got.title().empty());

  // A notification written by another replica reaches this replica's stream too.
  NotificationOptions o = Options();
  o.consumer_name = "test-2";
  o.run_consumers = o.run_delivery = o.run_reminders = false;
  second_ = std::make_unique<NotificationRuntime>(o, clock_.get());
  ASSERT_TRUE(second_->redis()->WaitHealthy(absl::Seconds(5)));
  v1::SendNotificationRequest send;
  send.set_type("admin.announcement");
  send.set_title("From replica two");
  send.set_body("Hello from the other replica");
  send.set_request_id("replica-2");
  absl::StatusOr<v1::Notification> sent = Await<v1::Notification>([&](Done<v1::Notification> done) {
    second_->composer()->Send(send, "amina", std::move(done));
  });
  ASSERT_TRUE(sent.ok()) << sent.status();
  ASSERT_TRUE(reader->Read(&got));
  EXPECT_EQ(got.name(), sent->name());
  EXPECT_EQ(got.title(), "From replica two");

  context.TryCancel();
  while (reader->Read(&got)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitUntil([&] { return runtime_->hub()->active_streams() == 0; }));
}

TEST_F(NotificationServiceTest, SlowStreamClientIsDroppedWithoutHoldingUpOthers) {
  StartService([](NotificationOptions& o) { o.service.stream_queue_limit = 4; });
  // The slow client's transport takes little before it has to read.
  grpc::ChannelArguments args;
  args.SetInt("grpc.http2.bdp_probe", 0);
  args.SetInt("grpc.http2.lookahead_bytes", 16 * 1024);
  auto slow_channel = grpc::CreateCustomChannel(runner_->address(), grpc::InsecureChannelCredentials(), args);
  auto slow_stub = v1::NotificationService::NewStub(slow_channel);
  v1::StreamNotificationsRequest request;
  request.set_parent("applicants/amina");
  grpc::ClientContext slow_context, fast_context;
  AsApplicant(&slow_context, "amina");
  AsApplicant(&fast_context, "amina");
  slow_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  fast_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto slow = slow_stub->StreamNotifications(&slow_context, request);
  auto fast = stub_->StreamNotifications(&fast_context, request);
  slow->WaitForInitialMetadata();
  fast->WaitForInitialMetadata();
  ASSERT_EQ(runtime_->hub()->active_streams(), 2);

  constexpr int kCount = 30;
  std::vector<std::string> received;
  std::thread reader([&] {
    v1::Notification n;
    while (static_cast<int>(received.size()) < kCount && fast->Read(&n)) received.push_back(n.title());
  });
  const std::string big(60 * 1024, 'x');
  for (int i = 0; i < kCount; ++i) {
    v1::Notification out;
    ASSERT_TRUE(Send("amina", absl::StrCat("n", i), absl::StrCat("req-", i), &out, big).ok());
  }
  reader.join();
  ASSERT_EQ(static_cast<int>(received.size()), kCount);
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(received[i], absl::StrCat("n", i));

  // The slow stream was ended; the fast one still stands.
  EXPECT_TRUE(WaitUntil([&] { return runtime_->hub()->active_streams() == 1; }));
  v1::Notification n;
  int slow_got = 0;
  while (slow->Read(&n)) ++slow_got;
  grpc::Status slow_status = slow->Finish();
  EXPECT_LT(slow_got, kCount);
  EXPECT_TRUE(slow_status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
              slow_status.error_code() == grpc::StatusCode::CANCELLED)
      << slow_status.error_code() << " " << slow_status.error_message();
  fast_context.TryCancel();
  while (fast->Read(&n)) {
  }
  fast->Finish();
}

TEST_F(NotificationServiceTest, StreamLimitsAndAccess) {
  StartService([](NotificationOptions& o) { o.hub.max_streams_per_recipient = 1; });
  v1::StreamNotificationsRequest request;
  request.set_parent("applicants/amina");
  grpc::ClientContext first;
  AsApplicant(&first, "amina");
  auto one = stub_->StreamNotifications(&first, request);
  one->WaitForInitialMetadata();

  grpc::ClientContext second;
  AsApplicant(&second, "amina");
  auto two = stub_->StreamNotifications(&second, request);
  v1::Notification n;
  EXPECT_FALSE(two->Read(&n));
  grpc::Status s = two->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ReasonOf(s), "TOO_MANY_STREAMS");

  grpc::ClientContext other;
  AsApplicant(&other, "bob");
  auto denied = stub_->StreamNotifications(&other, request);
  EXPECT_FALSE(denied->Read(&n));
  EXPECT_EQ(denied->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Shutdown ends live streams with UNAVAILABLE so that clients reconnect elsewhere.
  runtime_->BeginShutdown();
  EXPECT_FALSE(one->Read(&n));
  EXPECT_EQ(one->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(NotificationServiceTest, InboxPagesNewestFirstWithUnreadCountAndMarkRead) {
  StartService();
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) {
    v1::Notification n;
    ASSERT_TRUE(Send("amina", absl::StrCat("title ", i), absl::StrCat("r", i), &n).ok());
    names.push_back(n.name());
    clock_->Advance(absl::Minutes(1));
  }
  v1::ListNotificationsResponse page = List("amina", 2);
  ASSERT_EQ(page.notifications_size(), 2);
  EXPECT_EQ(page.notifications(0).title(), "title 4");
  EXPECT_EQ(page.notifications(1).title(), "title 3");
  EXPECT_EQ(page.unread_count(), 5);
  ASSERT_FALSE(page.next_page_token().empty());
  page = List("amina", 2, false, page.next_page_token());
  ASSERT_EQ(page.notifications_size(), 2);
  EXPECT_EQ(page.notifications(0).title(), "title 2");
  page = List("amina", 2, false, page.next_page_token());
  ASSERT_EQ(page.notifications_size(), 1);
  EXPECT_EQ(page.notifications(0).title(), "title 0");
  EXPECT_TRUE(page.next_page_token().empty());

  absl::Time first_read = clock_->Now();
  auto mark = [&](const std::string& name, const std::string& who, v1::Notification* out) {
    grpc::ClientContext c;
    AsApplicant(&c, who);
    v1::MarkReadRequest r;
    r.set_name(name);
    return stub_->MarkRead(&c, r, out);
  };
  v1::Notification read;
  ASSERT_TRUE(mark(names[3], "amina", &read).ok());
  EXPECT_TRUE(read.read());
  EXPECT_EQ(FromProtoTime(read.read_time()), first_read);
  clock_->Advance(absl::Hours(1));
  ASSERT_TRUE(mark(names[3], "amina", &read).ok());  // idempotent: first read time kept
  EXPECT_EQ(FromProtoTime(read.read_time()), first_read);

  v1::ListNotificationsResponse unread = List("amina", 100, true);
  EXPECT_EQ(unread.unread_count(), 4);
  ASSERT_EQ(unread.notifications_size(), 4);
  for (const auto& n : unread.notifications()) EXPECT_NE(n.name(), names[3]);
  EXPECT_TRUE(List("amina").notifications(1).read());

  // A token belongs to its filter.
  std::string token = List("amina", 1, true).next_page_token();
  grpc::Status status;
  List("amina", 1, false, token, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), std::set<std::string>{"page_token"});

  // Who may do what.
  EXPECT_EQ(mark(names[0], "bob", &read).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(mark("applicants/amina/notifications/nope", "bob", &read).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);  // before NOT_FOUND
  EXPECT_EQ(mark("applicants/amina/notifications/nope", "amina", &read).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(mark("applicants/amina/bogus", "amina", &read).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  {
    grpc::ClientContext c;
    AsApplicant(&c, "bob");
    v1::ListNotificationsRequest r;
    r.set_parent("applicants/amina");
    v1::ListNotificationsResponse out;
    EXPECT_EQ(stub_->ListNotifications(&c, r, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext c;  // nobody
    v1::ListNotificationsRequest r;
    r.set_parent("applicants/amina");
    v1::ListNotificationsResponse out;
    EXPECT_EQ(stub_->ListNotifications(&c, r, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext c;
    AsAdmin(&c);
    v1::ListNotificationsRequest r;
    r.set_parent("applicants/amina");
    r.set_page_size(-1);
    v1::ListNotificationsResponse out;
    grpc::Status s = stub_->ListNotifications(&c, r, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ViolatedFields(s), std::set<std::string>{"page_size"});
    grpc::ClientContext c2;
    AsAdmin(&c2);
    r.set_page_size(0);
    r.set_parent("applicants/Not Valid");
    s = stub_->ListNotifications(&c2, r, &out);
    EXPECT_EQ(ViolatedFields(s), std::set<std::string>{"parent"});
  }
}

TEST_F(NotificationServiceTest, InboxIsBoundedByRetention) {
  StartService([](NotificationOptions& o) { o.store.inbox_retention = 3; });
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) {
    v1::Notification n;
    ASSERT_TRUE(Send("amina", absl::StrCat("title ", i), absl::StrCat("r", i), &n).ok());
    names.push_back(n.name());
    clock_->Advance(absl::Seconds(1));
  }
  v1::ListNotificationsResponse inbox = List("amina");
  ASSERT_EQ(inbox.notifications_size(), 3);
  EXPECT_EQ(inbox.notifications(2).title(), "title 2");
  EXPECT_EQ(inbox.unread_count(), 3);
  std::string oldest_id = names[0].substr(names[0].rfind('/') + 1);
  EXPECT_EQ(redis_server_->Command({"EXISTS", "ntf:n:amina:" + oldest_id}), "0");
  EXPECT_EQ(redis_server_->Command({"EXISTS", "ntf:delivery:amina:" + oldest_id + ":email"}), "0");

  // And by age.
  clock_->Advance(absl::Hours(24 * 181));
  EXPECT_EQ(List("amina").notifications_size(), 0);
}

TEST_F(NotificationServiceTest, SettingsDefaultsUpdatesEtagsAndTheSecretNeverComesBack) {
  StartService();
  auto get = [&](const std::string& id, const std::string& role, v1::NotificationSettings* out) {
    grpc::ClientContext c;
    SetIdentity(&c, role, role == "applicant" ? "applicants/" + id : role + "s/x");
    v1::GetNotificationSettingsRequest r;
    r.set_name("applicants/" + id + "/notificationSettings");
    return stub_->GetNotificationSettings(&c, r, out);
  };
  v1::NotificationSettings defaults;
  ASSERT_TRUE(get("amina", "applicant", &defaults).ok());
  EXPECT_TRUE(defaults.email_enabled());
  EXPECT_FALSE(defaults.webhook_enabled());
  EXPECT_FALSE(defaults.has_update_time());
  EXPECT_FALSE(defaults.etag().empty());
  EXPECT_EQ(get("ghost", "admin", &defaults).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(get("amina", "service", &defaults).error_code(), grpc::StatusCode::OK);

  v1::NotificationSettings updated;
  ASSERT_TRUE(UpdateSettings("amina", {"webhook_enabled", "webhook_url", "webhook_secret"},
                             [&](v1::NotificationSettings* s) {
                               s->set_etag(defaults.etag());
                               s->set_webhook_enabled(true);
                               s->set_webhook_url("https://hooks.example.org/clerkship");
                               s->set_webhook_secret(kSecret);
                             },
                             &updated)
                  .ok());
  EXPECT_TRUE(updated.webhook_enabled());
  EXPECT_EQ(updated.webhook_secret(), "");
  EXPECT_TRUE(updated.webhook_secret_set());
  EXPECT_EQ(FromProtoTime(updated.update_time()), clock_->Now());
  EXPECT_NE(updated.etag(), defaults.etag());
  v1::NotificationSettings fetched;
  ASSERT_TRUE(get("amina", "applicant", &fetched).ok());
  EXPECT_EQ(fetched.webhook_secret(), "");
  EXPECT_EQ(fetched.etag(), updated.etag());
  EXPECT_EQ(fetched.webhook_url(), "https://hooks.example.org/clerkship");

  // A stale etag is refused; the current one works.
  grpc::Status stale = UpdateSettings("amina", {"email_enabled"}, [&](v1::NotificationSettings* s) {
    s->set_etag(defaults.etag());
  });
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ReasonOf(stale), "ETAG_MISMATCH");
  ASSERT_TRUE(UpdateSettings("amina", {"email_enabled"},
                             [&](v1::NotificationSettings* s) { s->set_etag(updated.etag()); },
                             &updated)
                  .ok());
  EXPECT_FALSE(updated.email_enabled());
  EXPECT_TRUE(updated.webhook_secret_set());  // untouched by an update that does not name it

  // Every bad field is named.
  grpc::Status bad = UpdateSettings(
      "amina", {"email_address", "webhook_url", "time_zone", "quiet_hours_start", "name"},
      [](v1::NotificationSettings* s) {
        s->set_email_address("nope");
        s->set_webhook_url("ftp://hooks.example.org");
        s->set_time_zone("Mars/Olympus");
        s->set_quiet_hours_start("7pm");
      });
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(bad),
            (std::set<std::string>{"notification_settings.email_address",
                                   "notification_settings.webhook_url",
                                   "notification_settings.time_zone",
                                   "notification_settings.quiet_hours_start", "update_mask.paths"}));
  grpc::Status no_secret = UpdateSettings("bob", {"webhook_enabled", "webhook_url"},
                                          [](v1::NotificationSettings* s) {
                                            s->set_webhook_enabled(true);
                                            s->set_webhook_url("https://hooks.example.org/b");
                                          });
  EXPECT_EQ(ViolatedFields(no_secret), std::set<std::string>{"notification_settings.webhook_secret"});

  // Only the recipient (or an admin) changes them.
  grpc::ClientContext c;
  AsService(&c);
  v1::UpdateNotificationSettingsRequest r;
  r.mutable_notification_settings()->set_name("applicants/amina/notificationSettings");
  v1::NotificationSettings out;
  EXPECT_EQ(stub_->UpdateNotificationSettings(&c, r, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext c2;
  AsApplicant(&c2, "bob");
  EXPECT_EQ(stub_->UpdateNotificationSettings(&c2, r, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(get("amina", "applicant", &out).error_code(), grpc::StatusCode::OK);
  grpc::ClientContext c3;
  AsApplicant(&c3, "bob");
  v1::GetNotificationSettingsRequest g;
  g.set_name("applicants/amina/notificationSettings");
  EXPECT_EQ(stub_->GetNotificationSettings(&c3, g, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(NotificationServiceTest, SendNotificationIsIdempotentAndValidated) {
  StartService();
  v1::Notification first, second, third;
  ASSERT_TRUE(Send("amina", "Maintenance tonight", "maint-2027-01-15", &first).ok());
  ASSERT_TRUE(Send("amina", "Maintenance tonight", "maint-2027-01-15", &second).ok());
  EXPECT_EQ(first.name(), second.name());
  EXPECT_EQ(first.type(), "admin.announcement");
  EXPECT_EQ(first.source_event(), "");
  ASSERT_TRUE(Send("amina", "Maintenance tonight", "maint-2027-01-16", &third).ok());
  EXPECT_NE(third.name(), first.name());
  EXPECT_EQ(List("amina").notifications_size(), 2);
  ASSERT_TRUE(smtp_.WaitForMessages(2, absl::Seconds(10)));  // one e-mail per notification

  grpc::ClientContext c;
  AsService(&c);
  v1::SendNotificationRequest bad;
  bad.set_recipient("people/amina");
  bad.set_type("Admin Announcement");
  bad.set_body(std::string(10001, 'x'));
  v1::Notification out;
  grpc::Status s = stub_->SendNotification(&c, bad, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(s),
            (std::set<std::string>{"recipient", "type", "title", "body", "request_id"}));

  grpc::ClientContext as_applicant;
  AsApplicant(&as_applicant, "amina");
  v1::SendNotificationRequest ok;
  ok.set_recipient("applicants/amina");
  ok.set_type("a.b");
  ok.set_title("t");
  ok.set_body("b");
  ok.set_request_id("x");
  EXPECT_EQ(stub_->SendNotification(&as_applicant, ok, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(NotificationServiceTest, ListDeliveriesNeedsExactlyOneFilterAndPages) {
  StartService();
  EnableWebhook("amina", /*email=*/true);
  v1::Notification n1, n2;
  ASSERT_TRUE(Send("amina", "one", "d1", &n1).ok());
  clock_->Advance(absl::Seconds(1));
  ASSERT_TRUE(Send("amina", "two", "d2", &n2).ok());
  ASSERT_TRUE(webhook_.WaitForRequests(2, absl::Seconds(10)));

  std::vector<std::string> seen;
  std::string token;
  do {
    grpc::ClientContext c;
    AsService(&c);
    v1::ListDeliveriesRequest r;
    r.set_recipient("applicants/amina");
    r.set_page_size(3);
    r.set_page_token(token);
    v1::ListDeliveriesResponse response;
    ASSERT_TRUE(stub_->ListDeliveries(&c, r, &response).ok());
    for (const auto& d : response.deliveries()) seen.push_back(d.name());
    token = response.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(seen, (std::vector<std::string>{n2.name() + "/deliveries/webhook",
                                            n2.name() + "/deliveries/email",
                                            n1.name() + "/deliveries/webhook",
                                            n1.name() + "/deliveries/email"}));

  grpc::ClientContext c;
  AsAdmin(&c);
  v1::ListDeliveriesRequest both;
  both.set_recipient("applicants/amina");
  both.set_notification(n1.name());
  v1::ListDeliveriesResponse out;
  grpc::Status s = stub_->ListDeliveries(&c, both, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext c2;
  AsApplicant(&c2, "amina");
  v1::ListDeliveriesRequest mine;
  mine.set_recipient("applicants/amina");
  EXPECT_EQ(stub_->ListDeliveries(&c2, mine, &out).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(NotificationServiceTest, TwoReplicasFireEachReminderOnce) {
  StartService([](NotificationOptions& o) { o.reminders.poll_interval = absl::Milliseconds(1); });
  NotificationOptions o = Options();
  o.consumer_name = "test-2";
  o.run_consumers = false;
  o.run_delivery = false;
  o.reminders.poll_interval = absl::Milliseconds(1);
  second_ = std::make_unique<NotificationRuntime>(o, clock_.get());
  ASSERT_TRUE(second_->redis()->WaitHealthy(absl::Seconds(5)));
  second_->Start();

  constexpr int kOffers = 30;
  for (int i = 0; i < kOffers; ++i) {
    OfferSpec spec;
    spec.applicant = i % 2 == 0 ? "amina" : "bob";
    spec.application = absl::StrCat("app", i);
    spec.offer_expires = clock_->Now() + absl::Hours(72);
    Publish(client_.get(), "app:events", ApplicationEvent(spec));
  }
  ASSERT_TRUE(WaitUntil([&] {
    return redis_server_->Command({"ZCARD", "ntf:reminders"}) == absl::StrCat(kOffers);
  }));
  // Due 24 hours before the offer expires.
  EXPECT_EQ(redis_server_->Command({"ZSCORE", "ntf:reminders", "offer:app0"}),
            absl::StrCat(absl::ToUnixMillis(clock_->Now() + absl::Hours(48))));
  WaitInbox("amina", kOffers / 2);
  WaitInbox("bob", kOffers / 2);

  clock_->Advance(absl::Hours(48) + absl::Minutes(1));
  ASSERT_TRUE(WaitUntil([&] { return redis_server_->Command({"ZCARD", "ntf:reminders"}) == "0"; }));
  std::map<std::string, int> reminders_per_application;
  for (const char* who : {"amina", "bob"}) {
    v1::ListNotificationsResponse inbox = WaitInbox(who, kOffers);
    for (const auto& n : inbox.notifications()) {
      if (n.type() == "reminder.offer_expiring") reminders_per_application[n.subject()]++;
    }
  }
  EXPECT_EQ(static_cast<int>(reminders_per_application.size()), kOffers);
  for (const auto& [application, count] : reminders_per_application) {
    EXPECT_EQ(count, 1) << application;
  }
}

TEST_F(NotificationServiceTest, AcceptingAnOfferSwapsTheExpiryReminderForAStartReminder) {
  StartService();
  OfferSpec offer;
  offer.offer_expires = clock_->Now() + absl::Hours(72);
  Publish(client_.get(), "app:events", ApplicationEvent(offer));
  ASSERT_TRUE(WaitUntil([&] {
    return !redis_server_->Command({"ZSCORE", "ntf:reminders", "offer:app1"}).empty();
  }));
  OfferSpec accepted = offer;
  accepted.from_state = "OFFERED";
  accepted.to_state = "ACCEPTED";
  accepted.actor = "applicants/amina";
  Publish(client_.get(), "app:events", ApplicationEvent(accepted));
  // 7 days before the first day, at 09:00 at the site (New York): 2027-02-22 14:00 UTC.
  absl::Time due = Utc(2027, 2, 22, 14, 0);
  ASSERT_TRUE(WaitUntil([&] {
    return redis_server_->Command({"ZSCORE", "ntf:reminders", "session:app1"}) ==
           absl::StrCat(absl::ToUnixMillis(due));
  }));
  EXPECT_EQ(redis_server_->Command({"ZSCORE", "ntf:reminders", "offer:app1"}), "");

  clock_->Set(due + absl::Seconds(1));
  ASSERT_TRUE(WaitUntil([&] {
    v1::ListNotificationsResponse inbox = List("amina");
    return inbox.notifications_size() == 3 &&
           inbox.notifications(0).type() == "reminder.session_starting";
  }));
  const v1::Notification reminder = List("amina").notifications(0);
  EXPECT_TRUE(absl::StrContains(reminder.body(), "starts on Mon, Mar 1, 2027")) << reminder.body();
  EXPECT_EQ(reminder.subject(), "applications/app1");
  EXPECT_EQ(redis_server_->Command({"ZCARD", "ntf:reminders"}), "0");
}

TEST_F(NotificationServiceTest, AnOlderEventDoesNotUndoANewerReminderDecision) {
  StartService();
  // Replicas may handle two events of one application in either order: here the
  // acceptance is processed before the offer it accepts.
  OfferSpec offer;
  offer.offer_expires = clock_->Now() + absl::Hours(72);
  Event offered = ApplicationEvent(offer);
  OfferSpec accepted = offer;
  accepted.from_state = "OFFERED";
  accepted.to_state = "ACCEPTED";
  Event accept = ApplicationEvent(accepted);
  *accept.mutable_time() = ToProtoTime(FromProtoTime(offered.time()) + absl::Seconds(30));
  Publish(client_.get(), "app:events", accept);
  Publish(client_.get(), "app:events", offered);
  WaitInbox("amina", 2);
  EXPECT_EQ(redis_server_->Command({"ZSCORE", "ntf:reminders", "offer:app1"}), "");
  EXPECT_NE(redis_server_->Command({"ZSCORE", "ntf:reminders", "session:app1"}), "");
}

TEST_F(NotificationServiceTest, DocumentsNotifyAndRemindBeforeTheyExpire) {
  StartService();
  auto document_event = [](const std::string& type, const std::string& doc) {
    Event e = events::NewEvent("applicant", type, "applicants/amina/documents/" + doc, "admins/1");
    clerkship::events::v1::DocumentChange* d =
        type == "document.verified" ? e.mutable_document_verified()
        : type == "document.added"  ? e.mutable_document_added()
                                    : e.mutable_document_rejected();
    d->set_applicant("applicants/amina");
    d->set_document("applicants/amina/documents/" + doc);
    d->set_display_name("TB test (2026)");
    d->set_expiry_date("2027-06-30");
    d->set_review_note("Looks good");
    return e;
  };
  Publish(client_.get(), "app:events", document_event("document.verified", "tb"));
  Publish(client_.get(), "app:events", document_event("document.added", "bls"));
  Publish(client_.get(), "app:events", document_event("document.rejected", "bls"));
  v1::ListNotificationsResponse inbox = WaitInbox("amina", 2);
  EXPECT_EQ(inbox.notifications(1).type(), "document.verified");
  EXPECT_EQ(inbox.notifications(0).type(), "document.rejected");  // added notifies nobody
  // 30 days before, 09:00 in Amina's zone (Asia/Kolkata): 2027-05-31 03:30 UTC. The
  // rejected document's reminder is gone.
  absl::Time due = Utc(2027, 5, 31, 3, 30);
  EXPECT_EQ(redis_server_->Command({"ZSCORE", "ntf:reminders", "document:amina:tb"}),
            absl::StrCat(absl::ToUnixMillis(due)));
  EXPECT_EQ(redis_server_->Command({"ZSCORE", "ntf:reminders", "document:amina:bls"}), "");

  clock_->Set(due);
  inbox = WaitInbox("amina", 3);
  EXPECT_EQ(inbox.notifications(0).type(), "reminder.document_expiring");
  EXPECT_TRUE(absl::StrContains(inbox.notifications(0).body(), "expires on Wed, Jun 30, 2027"))
      << inbox.notifications(0).body();
}

TEST_F(NotificationServiceTest, RoundPublishedNotifiesEveryParticipantOnce) {
  StartService(nullptr, std::make_unique<FakeRounds>());
  Event e = events::NewEvent("matching", "round.published", "rounds/spring-2027", "admins/1");
  e.mutable_round_published()->set_round("rounds/spring-2027");
  e.mutable_round_published()->set_display_name("Spring 2027");
  Publish(client_.get(), "mat:events", e);
  Publish(client_.get(), "mat:events", e);  // delivered twice
  v1::ListNotificationsResponse amina = WaitInbox("amina", 1);
  v1::ListNotificationsResponse bob = WaitInbox("bob", 1);
  EXPECT_EQ(amina.notifications(0).type(), "round.published");
  EXPECT_TRUE(absl::StrContains(amina.notifications(0).body(), "you were matched"));
  EXPECT_TRUE(absl::StrContains(bob.notifications(0).body(), "not matched"));
  EXPECT_TRUE(absl::StartsWith(bob.notifications(0).body(), "Hi Bob,"));
  // Both copies handled (nothing pending), still one each.
  ASSERT_TRUE(WaitUntil([&] {
    auto r = client_->CommandSync({"XPENDING", "mat:events", "notification"});
    return r.ok() && r->is_array() && !r->elements.empty() && r->elements[0].integer == 0 &&
           redis_server_->Command({"XLEN", "mat:events"}) == "2";
  }));
  EXPECT_EQ(List("amina").notifications_size(), 1);
  EXPECT_EQ(List("bob").notifications_size(), 1);
}

}  // namespace
}  // namespace clerkship::notification
