// The clerkship-notification binary killed with SIGKILL in the middle of a batch of 1,000
// events, then restarted as another replica: every event ends up as exactly one inbox
// entry (none lost, none doubled).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "clerkship/notification/v1/notification.pb.h"
#include "tests/services/notification/notification_test_util.h"
#include "tests/services/notification/test_servers.h"
#include "tests/support/test_redis.h"

namespace clerkship::notification {
namespace {

using clerkship::testing::TestRedis;
using testing::ApplicationEvent;
using testing::OfferSpec;
using testing::Publish;
using testing::WaitUntil;

std::string BinaryPath() {
  const char* dir = std::getenv("CLERKSHIP_BIN_DIR");
  std::filesystem::path base = dir != nullptr && *dir != '\0'
                                   ? std::filesystem::path(dir)
                                   : std::filesystem::read_symlink("/proc/self/exe").parent_path();
  return (base / "clerkship-notification").string();
}

// The service binary as a child process, its output in a log file.
class ServiceProcess {
 public:
  ~ServiceProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait();
    }
  }

  bool Start(const std::vector<std::string>& flags, const std::string& log_path) {
    log_path_ = log_path;
    std::vector<std::string> args = {BinaryPath()};
    args.insert(args.end(), flags.begin(), flags.end());
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    return pid_ > 0;
  }

  void Signal(int signo) { kill(pid_, signo); }

  // The exit status (128 + signal when killed).
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  bool running() {
    int status;
    return pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0;
  }

  std::string LogTail() const {
    std::ifstream in(log_path_);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
  }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

TEST(NotificationCrashTest, KilledMidBatchThenRestartedEveryEventGivesExactlyOneInboxEntry) {
  ASSERT_TRUE(std::filesystem::exists(BinaryPath())) << BinaryPath();
  auto redis_server = TestRedis::Start();
  ASSERT_NE(redis_server, nullptr);
  redis::ClientOptions ro;
  ro.address = redis_server->address();
  auto client = redis::Client::Create(ro);
  ASSERT_TRUE(client->WaitHealthy(absl::Seconds(5)));

  constexpr int kApplicants = 10;
  constexpr int kEvents = 1000;
  std::set<std::string> event_ids;
  for (int i = 0; i < kEvents; ++i) {
    OfferSpec spec;
    spec.to_state = "SUBMITTED";
    spec.from_state = "STATE_UNSPECIFIED";
    spec.applicant = absl::StrCat("a", i % kApplicants);
    spec.application = absl::StrCat("app", i);
    auto e = ApplicationEvent(spec);
    event_ids.insert(e.id());
    ASSERT_FALSE(Publish(client.get(), "app:events", e).empty());
  }

  auto inbox_total = [&] {
    int total = 0;
    for (int a = 0; a < kApplicants; ++a) {
      total += std::atoi(redis_server->Command({"ZCARD", absl::StrCat("ntf:inbox:a", a)}).c_str());
    }
    return total;
  };
  auto pending = [&] {
    auto r = client->CommandSync({"XPENDING", "app:events", "notification"});
    return r.ok() && r->is_array() && !r->elements.empty() ? r->elements[0].integer : -1;
  };
  std::vector<std::string> flags = {
      "--port=0", "--metrics_port=0", absl::StrCat("--redis_addr=", redis_server->address()),
      "--applicant_addr=", "--matching_addr=", "--claim_idle=500ms", "--claim_interval=100ms",
      "--consumer_batch_size=50", "--drain_period=0s", "--log_level=warning"};

  ServiceProcess first;
  std::vector<std::string> first_flags = flags;
  first_flags.push_back("--consumer_name=replica-a");
  ASSERT_TRUE(first.Start(first_flags, redis_server->dir() + "/replica-a.log"));
  ASSERT_TRUE(WaitUntil([&] { return inbox_total() >= 150 || !first.running(); }, absl::Seconds(60)))
      << first.LogTail();
  first.Signal(SIGKILL);
  EXPECT_EQ(first.Wait(), 128 + SIGKILL) << first.LogTail();
  int at_kill = inbox_total();
  int64_t pending_at_kill = pending();
  std::cout << "killed after " << at_kill << " notifications with " << pending_at_kill
            << " events read but not acknowledged\n";
  ASSERT_LT(at_kill, kEvents) << "the batch finished before the kill; the test proves nothing";

  // Another replica takes over: it reads the rest and reclaims what the dead one held.
  ServiceProcess second;
  std::vector<std::string> second_flags = flags;
  second_flags.push_back("--consumer_name=replica-b");
  ASSERT_TRUE(second.Start(second_flags, redis_server->dir() + "/replica-b.log"));
  ASSERT_TRUE(WaitUntil([&] { return inbox_total() >= kEvents && pending() == 0; },
                        absl::Seconds(120)))
      << "inbox " << inbox_total() << ", pending " << pending() << "\n" << second.LogTail();

  std::multiset<std::string> sources;
  for (int a = 0; a < kApplicants; ++a) {
    std::string recipient = absl::StrCat("a", a);
    auto ids = client->CommandSync({"ZRANGE", "ntf:inbox:" + recipient, "0", "-1"});
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(ids->elements.size(), static_cast<size_t>(kEvents / kApplicants)) << recipient;
    for (const redis::Reply& id : ids->elements) {
      auto record = client->CommandSync({"GET", "ntf:n:" + recipient + ":" + id.str});
      ASSERT_TRUE(record.ok());
      v1::Notification n;
      ASSERT_TRUE(n.ParseFromString(record->str));
      EXPECT_EQ(n.recipient(), "applicants/" + recipient);
      sources.insert(n.source_event());
    }
  }
  EXPECT_EQ(sources.size(), static_cast<size_t>(kEvents));                 // none doubled
  EXPECT_EQ(std::set<std::string>(sources.begin(), sources.end()), event_ids);  // none lost
  EXPECT_EQ(redis_server->Command({"XLEN", "ntf:deadletter"}), "0");

  second.Signal(SIGTERM);  // a graceful stop exits cleanly
  EXPECT_EQ(second.Wait(), 0) << second.LogTail();
}

}  // namespace
}  // namespace clerkship::notification
