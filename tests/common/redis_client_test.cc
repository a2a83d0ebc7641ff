// The Redis client against a real redis-server.

#include "common/redis/redis_client.h"

#include <gtest/gtest.h>

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "tests/support/test_redis.h"

namespace clerkship::redis {
namespace {

using clerkship::testing::TestRedis;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = TestRedis::Start();
    ASSERT_NE(server_, nullptr) << "redis-server did not start";
  }

  std::unique_ptr<Client> Connect(ClientOptions o = {}) {
    o.address = server_->address();
    if (o.command_timeout == ClientOptions().command_timeout) o.command_timeout = absl::Seconds(5);
    auto c = Client::Create(o);
    EXPECT_TRUE(c->WaitHealthy(absl::Seconds(5)));
    return c;
  }

  std::unique_ptr<TestRedis> server_;
};

TEST_F(RedisClientTest, ConcurrentCommandsArePipelinedOnFewConnections) {
  ClientOptions o;
  o.connections = 2;
  auto client = Connect(o);
  constexpr int kThreads = 8, kPerThread = 250;
  std::atomic<int> done{0}, failed{0};
  std::mutex mu;
  std::set<int64_t> seen;
  absl::Notification all_done;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        client->Command({"INCR", "counter"}, [&](absl::StatusOr<Reply> r) {
          if (!r.ok() || r->type != Reply::Type::kInteger) {
            failed++;
          } else {
            std::lock_guard<std::mutex> lock(mu);
            seen.insert(r->integer);
          }
          if (++done == kThreads * kPerThread) all_done.Notify();
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(failed.load(), 0);
  // Every command ran exactly once and got its own reply.
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*seen.rbegin(), kThreads * kPerThread);
  // All of it went over the client's two connections (plus this check's own).
  std::string clients = server_->Command({"CLIENT", "LIST"});
  EXPECT_EQ(std::count(clients.begin(), clients.end(), '\n'), 3) << clients;
}

TEST_F(RedisClientTest, RepliesKeepTheirTypes) {
  auto client = Connect();
  ASSERT_TRUE(client->CommandSync({"RPUSH", "l", "a", "b"}).ok());
  auto arr = client->CommandSync({"LRANGE", "l", "0", "-1"});
  ASSERT_TRUE(arr.ok());
  ASSERT_TRUE(arr->is_array());
  ASSERT_EQ(arr->elements.size(), 2u);
  EXPECT_EQ(arr->elements[1].str, "b");
  auto nil = client->CommandSync({"GET", "missing"});
  ASSERT_TRUE(nil.ok());
  EXPECT_TRUE(nil->is_nil());
  auto err = client->CommandSync({"INCR", "l"});
  ASSERT_TRUE(err.ok());
  EXPECT_TRUE(err->is_error());
  std::string binary("a\0b", 3);
  ASSERT_TRUE(client->CommandSync({"SET", "bin", binary}).ok());
  EXPECT_EQ(client->CommandSync({"GET", "bin"})->str, binary);
}

TEST_F(RedisClientTest, ScriptsAreReloadedAfterScriptFlush) {
  auto client = Connect();
  Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  auto first = client->EvalSync(script, {"k"}, {"5"});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->integer, 5);
  server_->Command({"SCRIPT", "FLUSH"});
  auto second = client->EvalSync(script, {"k"}, {"2"});
  ASSERT_TRUE(second.ok());
  ASSERT_FALSE(second->is_error()) << second->str;
  EXPECT_EQ(second->integer, 7);
}

TEST_F(RedisClientTest, ReconnectsAfterRedisRestarts) {
  ClientOptions o;
  o.health_check_interval = absl::Milliseconds(100);
  auto client = Connect(o);
  std::atomic<int> downs{0}, ups{0};
  client->SetHealthListener([&](bool healthy) { healthy ? ups++ : downs++; });
  ASSERT_TRUE(client->CommandSync({"SET", "a", "1"}).ok());

  server_->Kill();
  auto during = client->CommandSync({"GET", "a"});
  EXPECT_EQ(during.status().code(), absl::StatusCode::kUnavailable);
  for (int i = 0; i < 500 && client->healthy(); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_FALSE(client->healthy());

  ASSERT_TRUE(server_->Restart());
  ASSERT_TRUE(client->WaitHealthy(absl::Seconds(10)));
  auto after = client->CommandSync({"SET", "b", "2"});
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->str, "OK");
  EXPECT_GE(downs.load(), 1);
  EXPECT_GE(ups.load(), 1);
}

TEST_F(RedisClientTest, TimesOutWhenRedisHangsWithoutHoldingUpTheCaller) {
  ClientOptions o;
  o.connections = 2;
  auto client = Connect(o);
  // A hung server: DEBUG SLEEP blocks Redis itself for two seconds.
  absl::Notification sleep_done;
  std::atomic<bool> sleep_finished_first{false};
  client->Command({"DEBUG", "SLEEP", "2"}, absl::Seconds(10),
                  [&](absl::StatusOr<Reply>) { sleep_done.Notify(); });
  absl::SleepFor(absl::Milliseconds(50));
  std::atomic<int> timed_out{0};
  absl::Notification gets_done;
  std::atomic<int> remaining{10};
  for (int i = 0; i < 10; ++i) {
    client->Command({"GET", "x"}, absl::Milliseconds(200), [&](absl::StatusOr<Reply> r) {
      if (r.status().code() == absl::StatusCode::kDeadlineExceeded) timed_out++;
      if (sleep_done.HasBeenNotified()) sleep_finished_first = true;
      if (--remaining == 0) gets_done.Notify();
    });
  }
  ASSERT_TRUE(gets_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // Every command got its deadline answer while Redis was still asleep.
  EXPECT_EQ(timed_out.load(), 10);
  EXPECT_FALSE(sleep_finished_first.load());
  ASSERT_TRUE(sleep_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // And the client works again once Redis wakes up.
  ASSERT_TRUE(client->WaitHealthy(absl::Seconds(10)));
  absl::StatusOr<Reply> r;
  for (int i = 0; i < 100; ++i) {
    r = client->CommandSync({"PING"});
    if (r.ok()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str, "PONG");
}

TEST_F(RedisClientTest, AuthenticatesWithAPassword) {
  server_->Command({"CONFIG", "SET", "requirepass", "s3cret"});
  ClientOptions good;
  good.password = "s3cret";
  auto client = Connect(good);
  auto r = client->CommandSync({"SET", "p", "1"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->str, "OK");

  ClientOptions bad;
  bad.address = server_->address();
  bad.password = "wrong";
  auto rejected = Client::Create(bad);
  EXPECT_FALSE(rejected->WaitHealthy(absl::Milliseconds(500)));
}

TEST(RedisClientNoServer, FailsFastWhenNothingListens) {
  ClientOptions o;
  o.address = absl::StrCat("127.0.0.1:", clerkship::testing::FreePort());
  auto client = Client::Create(o);
  auto r = client->CommandSync({"PING"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(client->healthy());
}

}  // namespace
}  // namespace clerkship::redis

namespace clerkship::redis {
namespace {

// A Sentinel process watching a master, for discovery and failover tests.
class TestSentinel {
 public:
  TestSentinel(const std::string& dir, int master_port) {
    port_ = clerkship::testing::FreePort();
    std::string conf = dir + "/sentinel.conf";
    FILE* f = fopen(conf.c_str(), "w");
    fprintf(f,
            "port %d\nbind 127.0.0.1\ndir %s\n"
            "sentinel monitor mymaster 127.0.0.1 %d 1\n"
            "sentinel down-after-milliseconds mymaster 1000\n"
            "sentinel failover-timeout mymaster 5000\n",
            port_, dir.c_str(), master_port);
    fclose(f);
    pid_ = fork();
    if (pid_ == 0) {
      std::string log = dir + "/sentinel.log";
      execlp("redis-server", "redis-server", conf.c_str(), "--sentinel", "--logfile",
             log.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~TestSentinel() {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int port() const { return port_; }

 private:
  int port_;
  pid_t pid_;
};

TEST(RedisSentinel, FindsTheMasterAndFollowsAFailover) {
  auto master = TestRedis::Start();
  ASSERT_NE(master, nullptr);
  auto replica = TestRedis::Start();
  ASSERT_NE(replica, nullptr);
  replica->Command({"REPLICAOF", "127.0.0.1", std::to_string(master->port())});
  TestSentinel sentinel(master->dir(), master->port());

  ClientOptions o;
  o.sentinels = {sentinel.address()};
  o.master_name = "mymaster";
  o.health_check_interval = absl::Milliseconds(100);
  auto client = Client::Create(o);
  ASSERT_TRUE(client->WaitHealthy(absl::Seconds(10)));
  auto set = client->CommandSync({"SET", "k", "before"});
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->str, "OK");

  // Wait until the sentinel has discovered the replica, then fail over on purpose.
  for (int i = 0; i < 200; ++i) {
    auto replicas = client->CommandSync({"WAIT", "1", "100"});
    if (replicas.ok() && replicas->integer == 1) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  bool failover_started = false;
  for (int i = 0; i < 100 && !failover_started; ++i) {
    timeval tv = {1, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", sentinel.port(), tv);
    if (c != nullptr && c->err == 0) {
      auto* reply = static_cast<redisReply*>(redisCommand(c, "SENTINEL FAILOVER mymaster"));
      failover_started = reply != nullptr && reply->type == REDIS_REPLY_STATUS;
      if (reply) freeReplyObject(reply);
    }
    if (c) redisFree(c);
    if (!failover_started) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(failover_started);

  // Writes land on the new master without restarting the client.
  bool written_to_new_master = false;
  for (int i = 0; i < 300 && !written_to_new_master; ++i) {
    auto r = client->CommandSync({"SET", "k", "after"});
    written_to_new_master = r.ok() && !r->is_error() &&
                            replica->Command({"GET", "k"}) == "after" &&
                            replica->Command({"INFO", "replication"}).find("role:master") !=
                                std::string::npos;
    if (!written_to_new_master) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(written_to_new_master);
}

}  // namespace
}  // namespace clerkship::redis
