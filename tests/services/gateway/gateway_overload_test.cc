// The gateway under more load than it may take: the real clerkship-gateway binary, with small
// limits, in front of a catalog backend (in this process) that holds every GetSite call until
// the test lets it go. Past --max_inflight_calls and past --max_connections the gateway answers
// 503 with Retry-After at once (nothing hangs), its memory stays bounded while a flood of
// requests is turned away, and once the backend answers again so does the gateway.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "tests/security/tls/test_process.h"
#include "tests/services/gateway/http_test_client.h"
#include "tests/support/test_redis.h"

namespace clerkship {
namespace {

using testing::ChildProcess;
using testing::HttpConnection;
using testing::HttpResult;
namespace cat = clerkship::catalog::v1;

constexpr int kMaxInflight = 8;
constexpr int kMaxConnections = 48;

// GetSite calls wait here until Release().
class HeldCatalog final : public cat::CatalogService::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetSite(grpc::CallbackServerContext* context,
                                    const cat::GetSiteRequest* request,
                                    cat::Site* response) override {
    response->set_name(request->name());
    auto* reactor = context->DefaultReactor();
    absl::MutexLock lock(&mu_);
    if (released_) {
      reactor->Finish(grpc::Status::OK);
    } else {
      held_.push_back(reactor);
    }
    return reactor;
  }

  size_t held() {
    absl::MutexLock lock(&mu_);
    return held_.size();
  }

  void Release() {
    std::vector<grpc::ServerUnaryReactor*> held;
    {
      absl::MutexLock lock(&mu_);
      released_ = true;
      held.swap(held_);
    }
    for (auto* r : held) r->Finish(grpc::Status::OK);
  }

 private:
  absl::Mutex mu_;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<grpc::ServerUnaryReactor*> held_ ABSL_GUARDED_BY(mu_);
};

// Resident memory of a process, in kB (VmRSS in /proc/<pid>/status).
long ResidentKb(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      long kb = 0;
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits.push_back(c);
      }
      return absl::SimpleAtoi(digits, &kb) ? kb : -1;
    }
  }
  return -1;
}

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return condition();
}

class GatewayOverloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int backend_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &backend_port);
    builder.RegisterService(&catalog_);
    backend_ = builder.BuildAndStart();
    ASSERT_NE(backend_, nullptr);

    char tmpl[] = "/tmp/clerkship-overload-XXXXXX";
    dir_ = mkdtemp(tmpl);
    port_ = testing::FreePort();
    gateway_ = std::make_unique<ChildProcess>(
        CLERKSHIP_GATEWAY_BIN,
        std::vector<std::string>{
            absl::StrCat("--port=", port_), "--listen_host=127.0.0.1", "--drain_period=0s",
            "--shutdown_deadline=1s", "--access_log=false", "--log_level=error",
            "--rate_limit_rps=0",  // every client is 127.0.0.1 here
            absl::StrCat("--max_inflight_calls=", kMaxInflight),
            absl::StrCat("--max_connections=", kMaxConnections),
            "--jwt_secret=overload-test-secret-of-at-least-32-bytes",
            absl::StrCat("--catalog_addr=127.0.0.1:", backend_port),
            "--applicant_addr=127.0.0.1:1", "--matching_addr=127.0.0.1:1",
            "--notification_addr=127.0.0.1:1"},
        dir_ + "/gateway.log");
    ASSERT_TRUE(WaitUntil(
        [&] {
          return testing::HttpCall(port_, "GET", "/healthz").status == 200 ||
                 !gateway_->running();
        },
        absl::Seconds(30)));
    ASSERT_TRUE(gateway_->running()) << gateway_->Log();
  }

  void TearDown() override {
    catalog_.Release();
    if (gateway_ != nullptr) {
      EXPECT_EQ(gateway_->Stop(), 0) << gateway_->Log();
      EXPECT_FALSE(absl::StrContains(gateway_->Log(), "Sanitizer")) << gateway_->Log();
    }
    gateway_.reset();
    if (backend_) backend_->Shutdown(std::chrono::system_clock::now());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  HeldCatalog catalog_;
  std::unique_ptr<grpc::Server> backend_;
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> gateway_;
};

TEST_F(GatewayOverloadTest, ShedsWith503BoundedMemoryAndRecovers) {
  // Fill every backend slot with a call the backend holds.
  std::vector<std::unique_ptr<HttpConnection>> held;
  for (int i = 0; i < kMaxInflight; ++i) {
    auto c = std::make_unique<HttpConnection>(port_);
    ASSERT_TRUE(c->connected());
    ASSERT_TRUE(c->Send("GET", absl::StrCat("/v1/sites/held", i)));
    held.push_back(std::move(c));
  }
  ASSERT_TRUE(WaitUntil([&] { return catalog_.held() == kMaxInflight; }, absl::Seconds(10)))
      << catalog_.held();

  // The next call is turned away at once instead of queueing behind them.
  HttpResult shed = testing::HttpCall(port_, "GET", "/v1/sites/one-more");
  EXPECT_EQ(shed.status, 503) << shed.body;
  EXPECT_EQ(shed.header("retry-after"), "1");
  EXPECT_TRUE(absl::StrContains(shed.body, "OVERLOADED")) << shed.body;
  // The gateway's own endpoints still answer.
  EXPECT_EQ(testing::HttpCall(port_, "GET", "/healthz").status, 200);

  // Fill the connection limit with idle keep-alive connections; one more is answered 503.
  std::vector<std::unique_ptr<HttpConnection>> idle;
  while (static_cast<int>(held.size() + idle.size()) < kMaxConnections) {
    idle.push_back(std::make_unique<HttpConnection>(port_));
    ASSERT_TRUE(idle.back()->connected());
  }
  // (Connections closed earlier are counted out asynchronously: wait for that.)
  HttpResult too_many;
  EXPECT_TRUE(WaitUntil(
      [&] {
        too_many = testing::HttpCall(port_, "GET", "/healthz");
        return too_many.status == 503;
      },
      absl::Seconds(10)))
      << too_many.status;
  EXPECT_EQ(too_many.header("retry-after"), "1");
  EXPECT_TRUE(absl::StrContains(too_many.body, "too many open connections")) << too_many.body;

  // A flood from several threads: every request gets a quick answer (503) or, past the few
  // connections being answered at once, a closed connection; none waits for the timeout.
  const long rss_before = ResidentKb(gateway_->pid());
  ASSERT_GT(rss_before, 0);
  std::atomic<int> answered_503{0}, closed{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        HttpConnection c(port_, absl::Seconds(5));
        std::string big_target = absl::StrCat("/v1/sites/flood-", t, "-", i, "?pad=",
                                              std::string(2000, 'x'));
        if (!c.connected() || !c.Send("GET", big_target)) {
          closed.fetch_add(1);
          continue;
        }
        std::optional<HttpResult> r = c.Read();
        if (!r.has_value()) {
          closed.fetch_add(1);
        } else if (r->status == 503) {
          answered_503.fetch_add(1);
        } else {
          other.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const long rss_after = ResidentKb(gateway_->pid());
  std::cerr << "flood: " << answered_503.load() << " answered 503, " << closed.load()
            << " closed unanswered; gateway VmRSS " << rss_before << " kB before, " << rss_after
            << " kB after\n";
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(answered_503.load(), 500) << "closed: " << closed.load();
  // Generous: the ASan build's baseline is large; queued requests would have grown it by far
  // more (each held its 2 KB target, a session and a backend call).
  EXPECT_LT(rss_after, rss_before + 192 * 1024) << rss_before << " kB → " << rss_after << " kB";
  EXPECT_TRUE(gateway_->running()) << gateway_->Log();

  // Recovery: the backend answers the held calls, the idle clients leave, and new requests
  // are served again.
  catalog_.Release();
  for (auto& c : held) {
    std::optional<HttpResult> r = c->Read();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200) << r->body;
  }
  held.clear();
  idle.clear();
  EXPECT_TRUE(WaitUntil(
      [&] { return testing::HttpCall(port_, "GET", "/v1/sites/after").status == 200; },
      absl::Seconds(10)));
  int ok = 0;
  for (int i = 0; i < 20; ++i) {
    ok += testing::HttpCall(port_, "GET", absl::StrCat("/v1/sites/after-", i)).status == 200;
  }
  EXPECT_EQ(ok, 20);
}

}  // namespace
}  // namespace clerkship
