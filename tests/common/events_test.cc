// Event streams against a real Redis: publishing inside Lua, consumer groups, redelivery,
// dead letters and replay.

#include "common/events/events.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "tests/support/test_redis.h"

namespace clerkship::events {
namespace {

using clerkship::testing::TestRedis;

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = TestRedis::Start();
    ASSERT_NE(server_, nullptr);
    redis_options_.address = server_->address();
    client_ = redis::Client::Create(redis_options_);
    ASSERT_TRUE(client_->WaitHealthy(absl::Seconds(5)));
  }

  // Publishes like a service does: state change and event in one script.
  void Publish(const std::string& subject) {
    static const redis::Script kChange(std::string(kLuaPublish) + R"lua(
redis.call('SET', KEYS[1], ARGV[1])
return publish_event(KEYS[2], ARGV[2], ARGV[3])
)lua");
    auto e = NewEvent("test", "clerkship.test.changed", subject, "admins/1");
    auto r = client_->EvalSync(kChange, {"state:" + subject, "t:events"},
                               {"v", e.type(), e.SerializeAsString()});
    ASSERT_TRUE(r.ok());
    ASSERT_FALSE(r->is_error()) << r->str;
  }

  ConsumerOptions Options(const std::string& consumer) {
    ConsumerOptions o;
    o.stream = "t:events";
    o.group = "g";
    o.consumer = consumer;
    o.dead_letter_stream = "t:dead";
    o.claim_idle = absl::Milliseconds(1);
    o.claim_interval = absl::ZeroDuration();
    o.max_deliveries = 3;
    return o;
  }

  std::unique_ptr<TestRedis> server_;
  redis::ClientOptions redis_options_;
  std::unique_ptr<redis::Client> client_;
};

TEST_F(EventsTest, StateAndEventAreWrittenTogetherAndConsumedOnce) {
  for (int i = 0; i < 5; ++i) Publish(absl::StrCat("things/", i));
  EXPECT_EQ(server_->Command({"GET", "state:things/3"}), "v");

  std::vector<std::string> subjects;
  StreamConsumer consumer(redis_options_, Options("c1"), [&](const StreamEntry& e) {
    clerkship::events::v1::Event event;
    if (!event.ParseFromString(e.data)) return absl::InvalidArgumentError("bad event");
    EXPECT_EQ(e.type, "clerkship.test.changed");
    EXPECT_EQ(event.id().size(), 36u);
    subjects.push_back(event.subject());
    return absl::OkStatus();
  });
  auto n = consumer.PollOnce(absl::Milliseconds(100));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 5);
  EXPECT_EQ(subjects.front(), "things/0");
  EXPECT_EQ(subjects.back(), "things/4");
  // Acknowledged: nothing pending, nothing delivered again.
  auto again = consumer.PollOnce(absl::Milliseconds(50));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(server_->Command({"XLEN", "t:events"}), "5");
}

TEST_F(EventsTest, EntriesOfACrashedConsumerAreReclaimed) {
  Publish("things/a");
  Publish("things/b");
  // A consumer reads but dies before acknowledging (its handler fails, like a crash).
  {
    StreamConsumer dying(redis_options_, Options("dying"),
                         [](const StreamEntry&) { return absl::InternalError("crash"); });
    ASSERT_TRUE(dying.PollOnce(absl::Milliseconds(50)).ok());
  }
  int handled = 0;
  StreamConsumer survivor(redis_options_, Options("survivor"), [&](const StreamEntry&) {
    ++handled;
    return absl::OkStatus();
  });
  absl::SleepFor(absl::Milliseconds(5));
  auto n = survivor.PollOnce(absl::Milliseconds(50));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(handled, 2);
  auto pending = client_->CommandSync({"XPENDING", "t:events", "g"});
  ASSERT_TRUE(pending.ok());
  ASSERT_TRUE(pending->is_array());
  EXPECT_EQ(pending->elements[0].integer, 0);
}

TEST_F(EventsTest, PoisonEntryGoesToTheDeadLetterStreamAndCanBeReplayed) {
  Publish("things/good");
  Publish("things/poison");
  std::map<std::string, int> attempts;
  bool cured = false;
  StreamConsumer consumer(redis_options_, Options("c1"), [&](const StreamEntry& e) {
    clerkship::events::v1::Event event;
    event.ParseFromString(e.data);
    attempts[event.subject()]++;
    if (event.subject() == "things/poison" && !cured) {
      return absl::InvalidArgumentError("template missing for subject");
    }
    return absl::OkStatus();
  });
  for (int i = 0; i < 10 && consumer.dead_lettered() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
    ASSERT_TRUE(consumer.PollOnce(absl::Milliseconds(10)).ok());
  }
  EXPECT_EQ(consumer.dead_lettered(), 1);
  EXPECT_EQ(attempts["things/good"], 1);
  EXPECT_EQ(attempts["things/poison"], 3);
  EXPECT_EQ(server_->Command({"XLEN", "t:dead"}), "1");

  auto dead = client_->CommandSync({"XRANGE", "t:dead", "-", "+"});
  ASSERT_TRUE(dead.ok());
  auto entries = ParseEntries(*dead);
  ASSERT_EQ(entries.size(), 1u);
  const auto& fields = dead->elements[0].elements[1].elements;
  bool has_error = false;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (fields[i].str == "error") {
      has_error = true;
      EXPECT_EQ(fields[i + 1].str, "template missing for subject");
    }
  }
  EXPECT_TRUE(has_error);

  cured = true;
  ASSERT_TRUE(ReplayDeadLetter(client_.get(), "t:dead", entries[0].id).ok());
  EXPECT_EQ(server_->Command({"XLEN", "t:dead"}), "0");
  auto n = consumer.PollOnce(absl::Milliseconds(50));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(attempts["things/poison"], 4);
  EXPECT_EQ(ReplayDeadLetter(client_.get(), "t:dead", entries[0].id).code(),
            absl::StatusCode::kNotFound);
}

TEST(EventEnvelope, UuidsAreVersion4AndDistinct) {
  std::string a = NewUuid(), b = NewUuid();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);
}

}  // namespace
}  // namespace clerkship::events
