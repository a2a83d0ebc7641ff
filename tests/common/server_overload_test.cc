// Overload shedding in ServerRunner (--max_inflight_rpcs): a server driven past its limit
// answers the excess calls RESOURCE_EXHAUSTED at once instead of queueing them, keeps
// serving the calls it admitted and its health checks, does not grow without bound, and
// serves normally again once the load drops.
//
// The service is a CatalogService whose GetRotation the test controls: names starting with
// "rotations/hold" are held until the test releases them, any other name is answered at
// once. No assertion depends on timing: waits are wait-until loops on observable state.

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "common/server/server_runner.h"
#include "tests/support/grpc_test_util.h"

// Under AddressSanitizer freed memory is kept in a quarantine (256 MB by default), which
// would hide whether the server itself holds on to memory.
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=16"; }

namespace clerkship {
namespace {

using clerkship::testing::HealthOf;
using grpc::health::v1::HealthCheckResponse;

constexpr int kLimit = 8;

class HoldingCatalog final : public catalog::v1::CatalogService::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetRotation(grpc::CallbackServerContext* context,
                                        const catalog::v1::GetRotationRequest* request,
                                        catalog::v1::Rotation* response) override {
    calls_.fetch_add(1);
    response->set_name(request->name());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (absl::StartsWith(request->name(), "rotations/hold")) {
      absl::MutexLock lock(&mu_);
      held_.push_back(reactor);
      return reactor;
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  int held() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(held_.size());
  }

  void ReleaseAll() {
    std::vector<grpc::ServerUnaryReactor*> held;
    {
      absl::MutexLock lock(&mu_);
      held.swap(held_);
    }
    for (auto* r : held) r->Finish(grpc::Status::OK);
  }

  int calls() const { return calls_.load(); }

 private:
  std::atomic<int> calls_{0};
  absl::Mutex mu_;
  std::vector<grpc::ServerUnaryReactor*> held_ ABSL_GUARDED_BY(mu_);
};

// One asynchronous GetRotation from the client's side.
struct Call {
  grpc::ClientContext context;
  catalog::v1::GetRotationRequest request;
  catalog::v1::Rotation response;
  grpc::Status status;
  absl::Notification done;
};

// Resident set size of this process in kB.
int64_t RssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      std::string digits;
      for (char c : line) {
        if (c >= '0' && c <= '9') digits.push_back(c);
      }
      int64_t kb = 0;
      if (absl::SimpleAtoi(digits, &kb)) return kb;
    }
  }
  return 0;
}

// Waits (generously) until `condition` holds; the assertion is on the state, not the time.
template <typename F>
bool WaitUntil(F condition) {
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

class ServerOverloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.service_name = "overload-test";
    options.listen_address = "127.0.0.1:0";
    options.drain_period = absl::ZeroDuration();
    options.max_inflight_rpcs = kLimit;
    runner_ = std::make_unique<ServerRunner>(options);
    runner_->AddService(&service_, catalog::v1::CatalogService::service_full_name());
    ASSERT_TRUE(runner_->Start().ok());
    channel_ = grpc::CreateChannel(runner_->address(), grpc::InsecureChannelCredentials());
    stub_ = catalog::v1::CatalogService::NewStub(channel_);
  }

  void TearDown() override {
    service_.ReleaseAll();
    if (runner_) runner_->Shutdown();
  }

  std::unique_ptr<Call> Start(const std::string& name) {
    auto call = std::make_unique<Call>();
    call->request.set_name(name);
    // A hang would surface as DEADLINE_EXCEEDED, failing the assertions below.
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    Call* c = call.get();
    stub_->async()->GetRotation(&c->context, &c->request, &c->response,
                                [c](grpc::Status s) {
                                  c->status = std::move(s);
                                  c->done.Notify();
                                });
    return call;
  }

  grpc::Status GetNow(const std::string& name) {
    auto call = Start(name);
    call->done.WaitForNotification();
    return call->status;
  }

  // The server counts a call until it is completely done, which can be a moment after
  // the client has its answer.
  void WaitUntilIdle() {
    EXPECT_TRUE(WaitUntil([&] { return runner_->inflight_rpcs() == 0; }));
  }

  // Fills the server with kLimit held calls.
  std::vector<std::unique_ptr<Call>> HoldAtLimit() {
    WaitUntilIdle();
    std::vector<std::unique_ptr<Call>> held;
    for (int i = 0; i < kLimit; ++i) held.push_back(Start("rotations/hold-" + std::to_string(i)));
    EXPECT_TRUE(WaitUntil([&] { return service_.held() == kLimit; }));
    return held;
  }

  HoldingCatalog service_;
  std::unique_ptr<ServerRunner> runner_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<catalog::v1::CatalogService::Stub> stub_;
};

TEST_F(ServerOverloadTest, ExcessCallsAreRejectedAtOnceAndAdmittedOnesSucceed) {
  ASSERT_TRUE(GetNow("rotations/warm-up").ok());
  std::vector<std::unique_ptr<Call>> held = HoldAtLimit();
  EXPECT_EQ(runner_->inflight_rpcs(), kLimit);
  int calls_before = service_.calls();

  // The server is full: every further call is turned away, none reaches the service, and
  // none waits for the held calls (they are still held while these are checked).
  std::vector<std::unique_ptr<Call>> excess;
  for (int i = 0; i < 200; ++i) excess.push_back(Start("rotations/excess-" + std::to_string(i)));
  for (auto& call : excess) {
    call->done.WaitForNotification();
    EXPECT_EQ(call->status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << call->status.error_message();
    EXPECT_TRUE(absl::StrContains(call->status.error_message(), "overloaded"))
        << call->status.error_message();
  }
  EXPECT_EQ(service_.calls(), calls_before);
  EXPECT_EQ(service_.held(), kLimit);

  // Health checks, readiness and liveness, are exempt from the limit.
  EXPECT_EQ(HealthOf(channel_), HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthOf(channel_, "liveness"), HealthCheckResponse::SERVING);

  // The admitted calls complete normally.
  service_.ReleaseAll();
  for (auto& call : held) {
    call->done.WaitForNotification();
    EXPECT_TRUE(call->status.ok()) << call->status.error_message();
  }

  // Load gone: the server serves every call again.
  WaitUntilIdle();
  for (int i = 0; i < 50; ++i) {
    grpc::Status s = GetNow("rotations/after-" + std::to_string(i));
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
  }
  // Up to the limit at once, too.
  WaitUntilIdle();
  std::vector<std::unique_ptr<Call>> burst;
  for (int i = 0; i < kLimit; ++i) burst.push_back(Start("rotations/burst-" + std::to_string(i)));
  for (auto& call : burst) {
    call->done.WaitForNotification();
    EXPECT_TRUE(call->status.ok()) << call->status.error_message();
  }
}

TEST_F(ServerOverloadTest, MemoryStaysBoundedUnderRepeatedOverload) {
  ASSERT_TRUE(GetNow("rotations/warm-up").ok());
  auto overload_wave = [&] {
    std::vector<std::unique_ptr<Call>> held = HoldAtLimit();
    std::vector<std::unique_ptr<Call>> excess;
    for (int i = 0; i < 1000; ++i) {
      excess.push_back(Start("rotations/excess-" + std::string(512, 'x')));
    }
    int rejected = 0;
    for (auto& call : excess) {
      call->done.WaitForNotification();
      if (call->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++rejected;
    }
    EXPECT_EQ(rejected, 1000);
    service_.ReleaseAll();
    for (auto& call : held) {
      call->done.WaitForNotification();
      EXPECT_TRUE(call->status.ok()) << call->status.error_message();
    }
    WaitUntilIdle();
  };
  overload_wave();  // first wave: gRPC's and the allocator's pools grow to their size
  int64_t rss_after_first = RssKb();
  ASSERT_GT(rss_after_first, 0);
  for (int wave = 0; wave < 5; ++wave) overload_wave();
  int64_t rss_after_all = RssKb();
  // 5,000 more rejected calls: what the server keeps of them must not add up. Generous
  // bound (allocator noise), far below what keeping each call (> 10 kB) would take.
  EXPECT_LT(rss_after_all - rss_after_first, 40 * 1024)
      << "RSS grew from " << rss_after_first << " kB to " << rss_after_all << " kB";
  EXPECT_TRUE(GetNow("rotations/after").ok());
}

TEST(AccessLogPolicyTest, Parsing) {
  EXPECT_EQ(ParseAccessLogPolicy("all")->mode, AccessLogPolicy::Mode::kAll);
  EXPECT_EQ(ParseAccessLogPolicy("errors")->mode, AccessLogPolicy::Mode::kErrors);
  absl::StatusOr<AccessLogPolicy> sampled = ParseAccessLogPolicy("sampled:100");
  ASSERT_TRUE(sampled.ok());
  EXPECT_EQ(sampled->mode, AccessLogPolicy::Mode::kSampled);
  EXPECT_EQ(sampled->sample_every, 100);
  EXPECT_FALSE(ParseAccessLogPolicy("sampled:0").ok());
  EXPECT_FALSE(ParseAccessLogPolicy("sampled:").ok());
  EXPECT_FALSE(ParseAccessLogPolicy("some").ok());
}

}  // namespace
}  // namespace clerkship
