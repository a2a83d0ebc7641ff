// Site RPCs through a real in-process gRPC server on port 0, backed by a real Redis.

#include <gtest/gtest.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "common/server/server_runner.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/redis_catalog_store.h"
#include "tests/support/grpc_test_util.h"
#include "tests/support/test_redis.h"

namespace clerkship::catalog {
namespace {

using clerkship::testing::AsAdmin;
using clerkship::testing::HealthOf;
using clerkship::testing::SetIdentity;
using clerkship::testing::TestRedis;
using clerkship::testing::ViolatedFields;
using grpc::health::v1::HealthCheckResponse;

class SiteServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_server_ = TestRedis::Start();
    ASSERT_NE(redis_server_, nullptr);
    redis::ClientOptions ro;
    ro.address = redis_server_->address();
    ro.health_check_interval = absl::Milliseconds(100);
    ro.command_timeout = absl::Seconds(2);
    redis_ = redis::Client::Create(ro);
    ASSERT_TRUE(redis_->WaitHealthy(absl::Seconds(5)));
    store_ = std::make_unique<RedisCatalogStore>(redis_.get());
    service_ = std::make_unique<CatalogServiceImpl>(store_.get(), Clock::Real());
    ServerOptions so;
    so.service_name = "catalog";
    so.listen_address = "127.0.0.1:0";
    so.drain_period = absl::ZeroDuration();
    runner_ = std::make_unique<ServerRunner>(so);
    runner_->AddService(service_.get(), v1::CatalogService::service_full_name());
    runner_->TrackRedisHealth(redis_.get());
    ASSERT_TRUE(runner_->Start().ok());
    channel_ = grpc::CreateChannel(runner_->address(), grpc::InsecureChannelCredentials());
    stub_ = v1::CatalogService::NewStub(channel_);
  }

  void TearDown() override {
    if (runner_) runner_->Shutdown();
  }

  static v1::Site ValidSite(const std::string& name) {
    v1::Site s;
    s.set_display_name(name);
    s.set_organization("Mercy Health");
    s.set_city("Queens");
    s.set_us_state("NY");
    s.set_time_zone("America/New_York");
    s.set_website("https://mercy.example.org");
    return s;
  }

  grpc::Status Create(const v1::CreateSiteRequest& request, v1::Site* out) {
    grpc::ClientContext context;
    AsAdmin(&context);
    return stub_->CreateSite(&context, request, out);
  }

  std::unique_ptr<TestRedis> redis_server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisCatalogStore> store_;
  std::unique_ptr<CatalogServiceImpl> service_;
  std::unique_ptr<ServerRunner> runner_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CatalogService::Stub> stub_;
};

TEST_F(SiteServiceTest, CreateThenGet) {
  v1::CreateSiteRequest request;
  *request.mutable_site() = ValidSite("Mercy General");
  request.set_site_id("mercy-general");
  v1::Site created;
  ASSERT_TRUE(Create(request, &created).ok());
  EXPECT_EQ(created.name(), "sites/mercy-general");
  EXPECT_FALSE(created.etag().empty());
  EXPECT_GT(created.create_time().seconds(), 0);

  grpc::ClientContext context;  // reading needs no identity
  v1::GetSiteRequest get;
  get.set_name("sites/mercy-general");
  v1::Site fetched;
  ASSERT_TRUE(stub_->GetSite(&context, get, &fetched).ok());
  EXPECT_EQ(fetched.display_name(), "Mercy General");
  EXPECT_EQ(fetched.us_state(), "NY");
  EXPECT_EQ(fetched.etag(), created.etag());
}

TEST_F(SiteServiceTest, ServerGeneratedIdsAndIdempotentRetries) {
  v1::CreateSiteRequest request;
  *request.mutable_site() = ValidSite("Lakeside Clinic");
  request.set_request_id("0b6f7c1e-retry-me");
  v1::Site first, second;
  ASSERT_TRUE(Create(request, &first).ok());
  ASSERT_TRUE(Create(request, &second).ok());
  EXPECT_EQ(first.name(), second.name());
  EXPECT_EQ(redis_server_->Command({"ZCARD", "cat:sites"}), "1");

  request.set_request_id("another-request");
  v1::Site third;
  ASSERT_TRUE(Create(request, &third).ok());
  EXPECT_NE(third.name(), first.name());
}

TEST_F(SiteServiceTest, DuplicateIdIsAlreadyExists) {
  v1::CreateSiteRequest request;
  *request.mutable_site() = ValidSite("A");
  request.set_site_id("dup");
  v1::Site out;
  ASSERT_TRUE(Create(request, &out).ok());
  grpc::Status s = Create(request, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(clerkship::testing::ReasonOf(s), "SITE_EXISTS");
}

TEST_F(SiteServiceTest, EveryInvalidFieldIsNamed) {
  struct Case {
    std::string field;
    std::function<void(v1::CreateSiteRequest*)> spoil;
  };
  std::vector<Case> cases = {
      {"site.display_name", [](auto* r) { r->mutable_site()->set_display_name(""); }},
      {"site.display_name", [](auto* r) { r->mutable_site()->set_display_name(std::string(201, 'x')); }},
      {"site.city", [](auto* r) { r->mutable_site()->set_city(""); }},
      {"site.us_state", [](auto* r) { r->mutable_site()->set_us_state("ZZ"); }},
      {"site.time_zone", [](auto* r) { r->mutable_site()->set_time_zone("Mars/Olympus"); }},
      {"site.website", [](auto* r) { r->mutable_site()->set_website("http://insecure.example"); }},
      {"site.coordinator_email", [](auto* r) { r->mutable_site()->set_coordinator_email("nobody"); }},
      {"site_id", [](auto* r) { r->set_site_id("Not Valid!"); }},
      {"request_id", [](auto* r) { r->set_request_id(std::string(65, 'a')); }},
      {"site", [](auto* r) { r->clear_site(); }},
  };
  for (const Case& c : cases) {
    v1::CreateSiteRequest request;
    *request.mutable_site() = ValidSite("Good");
    c.spoil(&request);
    v1::Site out;
    grpc::Status s = Create(request, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(ViolatedFields(s), std::set<std::string>{c.field}) << s.error_message();
  }
  // Several problems at once are all reported.
  v1::CreateSiteRequest request;
  request.mutable_site()->set_us_state("xx");
  v1::Site out;
  std::set<std::string> fields = ViolatedFields(Create(request, &out));
  EXPECT_EQ(fields, (std::set<std::string>{"site.display_name", "site.city", "site.us_state",
                                           "site.time_zone"}));
  EXPECT_EQ(redis_server_->Command({"EXISTS", "cat:sites"}), "0");
}

TEST_F(SiteServiceTest, OnlyAdminsCreateSites) {
  v1::CreateSiteRequest request;
  *request.mutable_site() = ValidSite("X");
  v1::Site out;
  {
    grpc::ClientContext anonymous;
    EXPECT_EQ(stub_->CreateSite(&anonymous, request, &out).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext applicant;
    SetIdentity(&applicant, "applicant", "applicants/a1");
    EXPECT_EQ(stub_->CreateSite(&applicant, request, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext forged;  // role and principal disagree
    SetIdentity(&forged, "admin", "applicants/a1");
    EXPECT_EQ(stub_->CreateSite(&forged, request, &out).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
}

TEST_F(SiteServiceTest, GetUnknownOrMalformedName) {
  v1::GetSiteRequest get;
  v1::Site out;
  get.set_name("sites/nope");
  grpc::ClientContext c1;
  EXPECT_EQ(stub_->GetSite(&c1, get, &out).error_code(), grpc::StatusCode::NOT_FOUND);
  get.set_name("rotations/nope");
  grpc::ClientContext c2;
  grpc::Status s = stub_->GetSite(&c2, get, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(s), std::set<std::string>{"name"});
}

TEST_F(SiteServiceTest, PaginationWalksEverySiteOnce) {
  constexpr int kSites = 47;
  for (int i = 0; i < kSites; ++i) {
    v1::CreateSiteRequest request;
    *request.mutable_site() = ValidSite(absl::StrCat("Site ", i));
    request.set_site_id(absl::StrCat("site-", 100 + i));
    v1::Site out;
    ASSERT_TRUE(Create(request, &out).ok());
  }
  std::set<std::string> seen;
  std::vector<std::string> order;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext context;
    v1::ListSitesRequest list;
    list.set_page_size(10);
    list.set_page_token(token);
    v1::ListSitesResponse response;
    ASSERT_TRUE(stub_->ListSites(&context, list, &response).ok());
    EXPECT_LE(response.sites_size(), 10);
    for (const auto& s : response.sites()) {
      EXPECT_TRUE(seen.insert(s.name()).second) << "duplicate " << s.name();
      order.push_back(s.name());
    }
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 100);
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kSites));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));

  grpc::ClientContext context;
  v1::ListSitesRequest bad;
  bad.set_page_token("not-a-token");
  v1::ListSitesResponse response;
  grpc::Status s = stub_->ListSites(&context, bad, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(s), std::set<std::string>{"page_token"});
  grpc::ClientContext context2;
  bad.set_page_token("");
  bad.set_page_size(-1);
  EXPECT_EQ(ViolatedFields(stub_->ListSites(&context2, bad, &response)),
            std::set<std::string>{"page_size"});
}

TEST_F(SiteServiceTest, HealthFollowsRedis) {
  EXPECT_EQ(HealthOf(channel_), HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthOf(channel_, "clerkship.catalog.v1.CatalogService"),
            HealthCheckResponse::SERVING);

  redis_server_->Kill();
  for (int i = 0; i < 300 && HealthOf(channel_) == HealthCheckResponse::SERVING; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(HealthOf(channel_), HealthCheckResponse::NOT_SERVING);
  // Liveness stays SERVING: a Redis outage must not get the process restarted.
  EXPECT_EQ(HealthOf(channel_, "liveness"), HealthCheckResponse::SERVING);
  grpc::ClientContext context;
  v1::GetSiteRequest get;
  get.set_name("sites/any");
  v1::Site out;
  EXPECT_EQ(stub_->GetSite(&context, get, &out).error_code(), grpc::StatusCode::UNAVAILABLE);

  ASSERT_TRUE(redis_server_->Restart());
  for (int i = 0; i < 1000 && HealthOf(channel_) != HealthCheckResponse::SERVING; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(HealthOf(channel_), HealthCheckResponse::SERVING);
  grpc::ClientContext context2;
  EXPECT_EQ(stub_->GetSite(&context2, get, &out).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SiteServiceTest, DrainingTurnsHealthNotServing) {
  EXPECT_EQ(HealthOf(channel_), HealthCheckResponse::SERVING);
  runner_->SetServing(false);
  EXPECT_EQ(HealthOf(channel_), HealthCheckResponse::NOT_SERVING);
}

}  // namespace
}  // namespace clerkship::catalog
