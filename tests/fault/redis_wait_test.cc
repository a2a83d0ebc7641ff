// redis::Client::EvalAndWait against a real master with one real replica: the script's
// reply comes back only once the replica has the write, and UNAVAILABLE when not enough
// replicas acknowledge it in time (the write itself stays applied on the master).

#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/redis/redis_client.h"
#include "gtest/gtest.h"
#include "tests/support/test_redis.h"

namespace clerkship {
namespace {

using redis::Reply;

absl::StatusOr<Reply> EvalAndWaitSync(redis::Client* client, const redis::Script& script,
                                      std::vector<std::string> keys,
                                      std::vector<std::string> args, int replicas,
                                      absl::Duration timeout) {
  absl::Notification done;
  absl::StatusOr<Reply> result;
  client->EvalAndWait(script, std::move(keys), std::move(args), replicas, timeout,
                      [&](absl::StatusOr<Reply> r) {
                        result = std::move(r);
                        done.Notify();
                      });
  done.WaitForNotification();
  return result;
}

class RedisWaitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // No 5 s pause before the first full sync (diskless replication's default delay).
    master_ = testing::TestRedis::Start({"--repl-diskless-sync-delay", "0"});
    ASSERT_NE(master_, nullptr);
    replica_ = testing::TestRedis::Start(
        {"--replicaof", "127.0.0.1", std::to_string(master_->port())});
    ASSERT_NE(replica_, nullptr);
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (replica_->Command({"INFO", "replication"}).find("master_link_status:up") ==
           std::string::npos) {
      ASSERT_LT(absl::Now(), deadline) << "the replica never synced";
      absl::SleepFor(absl::Milliseconds(20));
    }
    redis::ClientOptions options;
    options.address = master_->address();
    client_ = redis::Client::Create(options);
    ASSERT_TRUE(client_->WaitHealthy(absl::Seconds(10)));
  }

  std::unique_ptr<testing::TestRedis> master_;
  std::unique_ptr<testing::TestRedis> replica_;
  std::unique_ptr<redis::Client> client_;
};

const redis::Script& SetScript() {
  static const redis::Script script(
      "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('INCR', KEYS[1] .. ':n')");
  return script;
}

TEST_F(RedisWaitTest, AnswersOnceTheReplicaHasTheWrite) {
  for (int i = 0; i < 20; ++i) {
    std::string value = "v" + std::to_string(i);
    absl::StatusOr<Reply> reply =
        EvalAndWaitSync(client_.get(), SetScript(), {"k"}, {value}, 1, absl::Seconds(5));
    ASSERT_TRUE(reply.ok()) << reply.status();
    EXPECT_EQ(reply->integer, i + 1);
    // Acknowledged means replicated: the replica already answers with the new value.
    EXPECT_EQ(replica_->Command({"GET", "k"}), value);
  }
}

TEST_F(RedisWaitTest, TooFewReplicasIsUnavailableButTheWriteIsApplied) {
  absl::StatusOr<Reply> reply = EvalAndWaitSync(client_.get(), SetScript(), {"k2"}, {"x"}, 2,
                                                absl::Milliseconds(100));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable) << reply.status();
  EXPECT_EQ(master_->Command({"GET", "k2"}), "x");
  // The connection is still usable afterwards.
  EXPECT_TRUE(client_->CommandSync({"PING"}).ok());
}

TEST_F(RedisWaitTest, ScriptErrorsAndReloadsBehaveAsWithEval) {
  static const redis::Script failing("return redis.error_reply('NOT_FOUND GONE nothing here')");
  absl::StatusOr<Reply> reply =
      EvalAndWaitSync(client_.get(), failing, {}, {}, 1, absl::Seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_TRUE(reply->is_error());
  EXPECT_EQ(redis::ScriptStatus(reply, "test").code(), absl::StatusCode::kNotFound);

  // After SCRIPT FLUSH the script is re-sent in full, and the wait still applies.
  ASSERT_TRUE(client_->CommandSync({"SCRIPT", "FLUSH"}).ok());
  reply = EvalAndWaitSync(client_.get(), SetScript(), {"k3"}, {"y"}, 1, absl::Seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_FALSE(reply->is_error()) << reply->str;
  EXPECT_EQ(replica_->Command({"GET", "k3"}), "y");

  // Zero replicas is a plain Eval.
  reply = EvalAndWaitSync(client_.get(), SetScript(), {"k4"}, {"z"}, 0, absl::Seconds(5));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(master_->Command({"GET", "k4"}), "z");
}

}  // namespace
}  // namespace clerkship
