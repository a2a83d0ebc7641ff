// The gateway over real HTTP in front of the real catalog service (in-process, on a real
// Redis) and a small in-process NotificationService that reports what it receives (identity
// metadata, request ids) and streams on demand. Applicant and matching point at a closed port.

#include <gmock/gmock.h>
#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "clerkship/notification/v1/notification.grpc.pb.h"
#include "common/server/server_runner.h"
#include "common/status/status.h"
#include "services/catalog/catalog_service.h"
#include "services/catalog/redis_catalog_store.h"
#include "services/gateway/gateway.h"
#include "services/gateway/jwt.h"
#include "tests/services/gateway/http_test_client.h"
#include "tests/support/test_redis.h"

namespace clerkship::gateway {
namespace {

using clerkship::testing::HttpCall;
using clerkship::testing::HttpConnection;
using clerkship::testing::HttpResult;
using clerkship::testing::TestRedis;
using ::testing::HasSubstr;
using Json = nlohmann::json;
namespace ntf = clerkship::notification::v1;

constexpr char kSecret[] = "integration-test-secret-of-at-least-32-bytes";
constexpr char kIssuer[] = "clerkship-test";
constexpr char kAudience[] = "clerkship-api";
constexpr char kAllowedOrigin[] = "https://app.example.org";

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(5)) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return condition();
}

std::string Metadata(grpc::CallbackServerContext* context, const std::string& key) {
  auto it = context->client_metadata().find(key);
  if (it == context->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// --- a NotificationService that reports what reached it -----------------------------------

class FakeNotifications final : public ntf::NotificationService::CallbackService {
 public:
  class Stream : public grpc::ServerWriteReactor<ntf::Notification> {
   public:
    explicit Stream(FakeNotifications* owner) : owner_(owner) {}
    void Push(const ntf::Notification& n) {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      queue_.push_back(n);
      if (!writing_) WriteNextLocked();
    }
    void OnWriteDone(bool ok) override {
      bool finish = false;
      {
        absl::MutexLock lock(&mu_);
        writing_ = false;
        if (ok && !cancelled_ && !queue_.empty()) {
          WriteNextLocked();
        } else if (!ok || cancelled_) {
          finish = TakeFinishLocked();
        }
      }
      if (finish) Finish(grpc::Status::CANCELLED);
    }
    void OnCancel() override {
      owner_->cancelled_streams.fetch_add(1);
      bool finish = false;
      {
        absl::MutexLock lock(&mu_);
        cancelled_ = true;
        if (!writing_) finish = TakeFinishLocked();
      }
      if (finish) Finish(grpc::Status::CANCELLED);
    }
    void OnDone() override {
      owner_->Remove(this);
      delete this;
    }

   private:
    void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      current_ = queue_.front();
      queue_.erase(queue_.begin());
      writing_ = true;
      StartWrite(&current_);
    }
    bool TakeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      if (finished_) return false;
      finished_ = true;
      return true;
    }
    FakeNotifications* owner_;
    absl::Mutex mu_;
    std::vector<ntf::Notification> queue_ ABSL_GUARDED_BY(mu_);
    ntf::Notification current_;
    bool writing_ ABSL_GUARDED_BY(mu_) = false;
    bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
    bool finished_ ABSL_GUARDED_BY(mu_) = false;
  };

  // Echoes the identity and request id it received in the one notification it returns.
  grpc::ServerUnaryReactor* ListNotifications(grpc::CallbackServerContext* context,
                                              const ntf::ListNotificationsRequest* request,
                                              ntf::ListNotificationsResponse* response) override {
    ntf::Notification* n = response->add_notifications();
    n->set_recipient(request->parent());
    n->set_title(Metadata(context, "x-clerkship-principal"));
    n->set_body(Metadata(context, "x-clerkship-role"));
    n->set_subject(Metadata(context, "x-clerkship-site"));
    n->set_type(Metadata(context, "x-request-id"));
    n->set_read(request->unread_only());
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* MarkRead(grpc::CallbackServerContext* context,
                                     const ntf::MarkReadRequest*, ntf::Notification*) override {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(PreconditionFailedError(
        "the notification is archived", {{"NOTIFICATION_ARCHIVED", "n1", "archived yesterday"}},
        "NOTIFICATION_ARCHIVED", "clerkship.notification")));
    return reactor;
  }

  // Answers only after two seconds: for deadline tests.
  grpc::ServerUnaryReactor* GetNotificationSettings(grpc::CallbackServerContext* context,
                                                    const ntf::GetNotificationSettingsRequest*,
                                                    ntf::NotificationSettings*) override {
    class Slow : public grpc::ServerUnaryReactor {
     public:
      Slow() {
        alarm_.Set(std::chrono::system_clock::now() + std::chrono::seconds(2),
                   [this](bool) { Finish(grpc::Status::OK); });
      }
      void OnDone() override { delete this; }

     private:
      grpc::Alarm alarm_;
    };
    return new Slow();
  }

  grpc::ServerWriteReactor<ntf::Notification>* StreamNotifications(
      grpc::CallbackServerContext* context,
      const ntf::StreamNotificationsRequest* request) override {
    auto* stream = new Stream(this);
    if (Metadata(context, "x-clerkship-principal") != request->parent()) {
      stream->Finish(
          ToGrpcStatus(ErrorWithInfo(absl::StatusCode::kPermissionDenied, "not your notifications",
                                     "PERMISSION_DENIED", "clerkship.notification")));
      return stream;
    }
    absl::MutexLock lock(&mu_);
    streams_.insert(stream);
    return stream;
  }

  void Publish(const std::string& title) {
    ntf::Notification n;
    n.set_name("applicants/a1/notifications/n1");
    n.set_title(title);
    n.set_type("application.offered");
    absl::MutexLock lock(&mu_);
    for (Stream* s : streams_) s->Push(n);
  }
  int open_streams() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(streams_.size());
  }
  void Remove(Stream* s) {
    absl::MutexLock lock(&mu_);
    streams_.erase(s);
  }

  std::atomic<int> cancelled_streams{0};

 private:
  absl::Mutex mu_;
  std::set<Stream*> streams_ ABSL_GUARDED_BY(mu_);
};

// --- the fixture ---------------------------------------------------------------------------

class GatewayTest : public ::testing::Test {
 protected:
  static GatewayOptions BaseOptions() {
    GatewayOptions o;
    o.http.listen_host = "127.0.0.1";
    o.http.port = 0;
    o.http.threads = 2;
    o.http.max_body_bytes = 64 << 10;
    o.http.max_header_bytes = 8 << 10;
    o.http.idle_timeout = absl::Seconds(5);
    o.http.read_timeout = absl::Seconds(2);
    o.http.write_timeout = absl::Seconds(2);
    o.http.stream_heartbeat = absl::Milliseconds(100);
    o.jwt.algorithm = JwtAlgorithm::kHS256;
    o.jwt.secret = kSecret;
    o.jwt.issuer = kIssuer;
    o.jwt.audience = kAudience;
    o.rate_limit_per_second = 0;
    o.cors_allowed_origins = {kAllowedOrigin};
    o.access_log = false;
    o.readiness_timeout = absl::Milliseconds(500);
    o.drain_period = absl::ZeroDuration();
    o.shutdown_deadline = absl::Seconds(2);
    return o;
  }

  void SetUp() override {
    redis_server_ = TestRedis::Start();
    ASSERT_NE(redis_server_, nullptr);
    redis::ClientOptions ro;
    ro.address = redis_server_->address();
    ro.health_check_interval = absl::Milliseconds(100);
    redis_ = redis::Client::Create(ro);
    ASSERT_TRUE(redis_->WaitHealthy(absl::Seconds(5)));
    store_ = std::make_unique<catalog::RedisCatalogStore>(redis_.get());
    catalog_ = std::make_unique<catalog::CatalogServiceImpl>(store_.get(), Clock::Real());
    ServerOptions so;
    so.service_name = "catalog";
    so.listen_address = "127.0.0.1:0";
    so.drain_period = absl::ZeroDuration();
    runner_ = std::make_unique<ServerRunner>(so);
    runner_->AddService(catalog_.get(), catalog::v1::CatalogService::service_full_name());
    runner_->TrackRedisHealth(redis_.get());
    ASSERT_TRUE(runner_->Start().ok());

    grpc::ServerBuilder builder;
    int notification_port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &notification_port);
    builder.RegisterService(&notifications_);
    notification_server_ = builder.BuildAndStart();
    ASSERT_NE(notification_server_, nullptr);
    notification_addr_ = absl::StrCat("127.0.0.1:", notification_port);

    gateway_ = StartGateway(BaseOptions());
    ASSERT_NE(gateway_, nullptr);
    port_ = gateway_->port();
  }

  void TearDown() override {
    for (auto& gw : extra_gateways_) gw->Shutdown();
    if (gateway_) gateway_->Shutdown();
    if (notification_server_) notification_server_->Shutdown(std::chrono::system_clock::now());
    if (runner_) runner_->Shutdown();
  }

  std::unique_ptr<Gateway> StartGateway(GatewayOptions o) {
    o.backend_addresses = {{"catalog", runner_->address()},
                           {"applicant", "127.0.0.1:1"},
                           {"matching", "127.0.0.1:1"},
                           {"notification", notification_addr_}};
    auto gw = Gateway::Create(o);
    EXPECT_TRUE(gw.ok()) << gw.status();
    if (!gw.ok()) return nullptr;
    EXPECT_TRUE((*gw)->Start().ok());
    return *std::move(gw);
  }

  static std::string Token(const std::string& sub, const std::string& role,
                           const std::string& site = "", absl::Duration ttl = absl::Hours(1),
                           const std::string& secret = kSecret) {
    JwtSigningKey key;
    key.secret = secret;
    return "Authorization: Bearer " +
           *SignJwt(key, TokenClaimsJson(sub, role, site, kIssuer, kAudience, absl::Now(), ttl));
  }
  static std::string Admin() { return Token("admins/root", "admin"); }
  static std::string Applicant(const std::string& id = "a1") {
    return Token("applicants/" + id, "applicant");
  }

  static Json Body(const HttpResult& r) { return Json::parse(r.body, nullptr, false); }
  static std::string Reason(const HttpResult& r) {
    Json body = Body(r);
    if (body.is_discarded() || !body.contains("error")) return "";
    for (const auto& d : body["error"]["details"]) {
      if (d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo") return d["reason"];
    }
    return "";
  }
  static std::set<std::string> ViolatedFields(const HttpResult& r) {
    std::set<std::string> out;
    Json body = Body(r);
    for (const auto& d : body["error"]["details"]) {
      if (d["@type"] == "type.googleapis.com/google.rpc.BadRequest") {
        for (const auto& v : d["fieldViolations"]) out.insert(v["field"].get<std::string>());
      }
    }
    return out;
  }

  HttpResult CreateSite(const std::string& id, const std::string& display_name) {
    return HttpCall(port_, "POST", "/v1/sites?siteId=" + id,
                    Json{{"displayName", display_name},
                         {"city", "Queens"},
                         {"usState", "NY"},
                         {"timeZone", "America/New_York"}}
                        .dump(),
                    {Admin()});
  }

  std::unique_ptr<TestRedis> redis_server_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<catalog::RedisCatalogStore> store_;
  std::unique_ptr<catalog::CatalogServiceImpl> catalog_;
  std::unique_ptr<ServerRunner> runner_;
  FakeNotifications notifications_;
  std::unique_ptr<grpc::Server> notification_server_;
  std::string notification_addr_;
  std::unique_ptr<Gateway> gateway_;
  std::vector<std::unique_ptr<Gateway>> extra_gateways_;
  int port_ = 0;
};

// --- the catalog through the gateway -------------------------------------------------------

TEST_F(GatewayTest, AdminCreatesASiteAndAnyoneBrowsesWithoutAToken) {
  HttpResult created = CreateSite("mercy-general", "Mercy General");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(created.header("content-type"), "application/json");
  Json site = Body(created);
  EXPECT_EQ(site["name"], "sites/mercy-general");
  EXPECT_EQ(site["usState"], "NY");
  EXPECT_FALSE(site["etag"].get<std::string>().empty());
  ASSERT_EQ(CreateSite("lakeside", "Lakeside Clinic").status, 200);

  HttpResult got = HttpCall(port_, "GET", "/v1/sites/mercy-general");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Body(got)["displayName"], "Mercy General");
  EXPECT_EQ(Body(got)["etag"], site["etag"]);

  HttpResult list = HttpCall(port_, "GET", "/v1/sites?pageSize=1");
  ASSERT_EQ(list.status, 200) << list.body;
  Json page = Body(list);
  ASSERT_EQ(page["sites"].size(), 1u);
  EXPECT_EQ(page["sites"][0]["name"], "sites/lakeside");
  ASSERT_FALSE(page["nextPageToken"].get<std::string>().empty());
  HttpResult next = HttpCall(
      port_, "GET", "/v1/sites?pageSize=1&pageToken=" + page["nextPageToken"].get<std::string>());
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(Body(next)["sites"][0]["name"], "sites/mercy-general");

  // Trailing slash and percent-encoding reach the same resource.
  EXPECT_EQ(HttpCall(port_, "GET", "/v1/sites/mercy%2Dgeneral/").status, 200);
}

TEST_F(GatewayTest, BackendErrorsBecomeHttpStatusesWithDetails) {
  HttpResult missing = HttpCall(port_, "GET", "/v1/sites/nowhere");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(Body(missing)["error"]["status"], "NOT_FOUND");
  EXPECT_EQ(Body(missing)["error"]["code"], 404);

  HttpResult invalid = HttpCall(port_, "POST", "/v1/sites",
                                R"({"displayName":"","city":"Austin","usState":"XX",)"
                                R"("timeZone":"America/Chicago"})",
                                {Admin()});
  EXPECT_EQ(invalid.status, 400);
  EXPECT_THAT(ViolatedFields(invalid),
              ::testing::IsSupersetOf({"site.display_name", "site.us_state"}));

  ASSERT_EQ(CreateSite("dup", "Dup").status, 200);
  HttpResult dup = CreateSite("dup", "Dup");
  EXPECT_EQ(dup.status, 409) << dup.body;

  // A PreconditionFailure from a service (the fake notification service) arrives decoded.
  HttpResult failed =
      HttpCall(port_, "POST", "/v1/applicants/a1/notifications/n1:markRead", "{}", {Applicant()});
  EXPECT_EQ(failed.status, 412) << failed.body;
  Json details = Body(failed)["error"]["details"];
  bool saw_violation = false;
  for (const auto& d : details) {
    if (d["@type"] == "type.googleapis.com/google.rpc.PreconditionFailure") {
      EXPECT_EQ(d["violations"][0]["type"], "NOTIFICATION_ARCHIVED");
      saw_violation = true;
    }
  }
  EXPECT_TRUE(saw_violation) << failed.body;
  EXPECT_EQ(Reason(failed), "NOTIFICATION_ARCHIVED");

  // A backend that is down is 503 without its address.
  HttpResult down = HttpCall(port_, "GET", "/v1/applicants/a1", "", {Admin()});
  EXPECT_EQ(down.status, 503) << down.body;
  EXPECT_THAT(down.body, ::testing::Not(HasSubstr("127.0.0.1")));
}

TEST_F(GatewayTest, RequestBodyProblemsAre400NamingTheField) {
  HttpResult malformed = HttpCall(port_, "POST", "/v1/sites", R"({"displayName": "x",)", {Admin()});
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(Reason(malformed), "MALFORMED_JSON");

  HttpResult unknown = HttpCall(port_, "POST", "/v1/sites",
                                R"({"displayName":"X","city":"Austin","usState":"TX",)"
                                R"("timeZone":"America/Chicago","beds":120})",
                                {Admin()});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(Reason(unknown), "UNKNOWN_FIELD");
  EXPECT_EQ(ViolatedFields(unknown), std::set<std::string>{"site.beds"});
  EXPECT_THAT(Body(unknown)["error"]["message"].get<std::string>(), HasSubstr("site.beds"));

  HttpResult bad_query = HttpCall(port_, "GET", "/v1/sites?pageSize=many&color=red");
  EXPECT_EQ(bad_query.status, 400);
  EXPECT_EQ(ViolatedFields(bad_query), (std::set<std::string>{"color", "pageSize"}));

  // Nothing reached Redis.
  EXPECT_EQ(redis_server_->Command({"ZCARD", "cat:sites"}), "0");
}

TEST_F(GatewayTest, UnknownPathsAndWrongMethods) {
  HttpResult none = HttpCall(port_, "GET", "/v1/hospitals");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(Reason(none), "NO_ROUTE");
  HttpResult wrong = HttpCall(port_, "DELETE", "/v1/sites");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.header("allow"), "GET, POST");
  HttpResult verb = HttpCall(port_, "GET", "/v1/rotations/r1:publish");
  EXPECT_EQ(verb.status, 405);
  EXPECT_EQ(verb.header("allow"), "POST");
  EXPECT_EQ(HttpCall(port_, "POST", "/healthz").status, 405);
  EXPECT_EQ(HttpCall(port_, "GET", "/v1/sites/%zz").status, 400);
}

// --- authentication -------------------------------------------------------------------------

TEST_F(GatewayTest, ProtectedRoutesNeedAValidToken) {
  const std::string body =
      R"({"displayName":"X","city":"Austin","usState":"TX","timeZone":"America/Chicago"})";
  HttpResult anonymous = HttpCall(port_, "POST", "/v1/sites", body);
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.header("www-authenticate"), "Bearer");
  EXPECT_EQ(Body(anonymous)["error"]["status"], "UNAUTHENTICATED");
  EXPECT_EQ(HttpCall(port_, "GET", "/v1/applicants/a1/notifications").status, 401);

  struct BadToken {
    std::string header;
    std::string reason;
  };
  std::string none_token =
      absl::StrCat(Base64UrlEncode(R"({"alg":"none"})"), ".",
                   Base64UrlEncode(TokenClaimsJson("admins/root", "admin", "", kIssuer, kAudience,
                                                   absl::Now(), absl::Hours(1))),
                   ".");
  const BadToken bad[] = {
      {Token("admins/root", "admin", "", -absl::Minutes(5)), "TOKEN_EXPIRED"},
      {Token("admins/root", "admin", "", absl::Hours(1), "another-secret-another-secret-0123"),
       "TOKEN_SIGNATURE_INVALID"},
      {"Authorization: Bearer " + none_token, "TOKEN_ALGORITHM_NOT_ALLOWED"},
      {"Authorization: Bearer not-a-jwt", "TOKEN_MALFORMED"},
      {"Authorization: Basic YWRtaW46YWRtaW4=", "TOKEN_MALFORMED"},
  };
  for (const BadToken& t : bad) {
    // Even a public route refuses a token that is present but bad.
    HttpResult r = HttpCall(port_, "GET", "/v1/sites", "", {t.header});
    EXPECT_EQ(r.status, 401) << t.header;
    EXPECT_EQ(Reason(r), t.reason) << t.header;
    EXPECT_THAT(r.header("www-authenticate"), HasSubstr("invalid_token"));
    EXPECT_EQ(HttpCall(port_, "POST", "/v1/sites", body, {t.header}).status, 401);
  }
  EXPECT_EQ(redis_server_->Command({"ZCARD", "cat:sites"}), "0");
}

TEST_F(GatewayTest, TheServiceDecidesPermissionFromTheTokenOnly) {
  const std::string body =
      R"({"displayName":"X","city":"Austin","usState":"TX","timeZone":"America/Chicago"})";
  // An applicant may not create sites, whatever identity headers they add themselves.
  HttpResult denied = HttpCall(port_, "POST", "/v1/sites", body,
                               {Applicant(), "X-Clerkship-Role: admin",
                                "X-Clerkship-Principal: admins/root", "x-clerkship-site: sites/x"});
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_EQ(Body(denied)["error"]["status"], "PERMISSION_DENIED");
  // Without a token, the headers alone get nowhere.
  EXPECT_EQ(HttpCall(port_, "POST", "/v1/sites", body,
                     {"X-Clerkship-Role: admin", "X-Clerkship-Principal: admins/root"})
                .status,
            401);
  EXPECT_EQ(redis_server_->Command({"ZCARD", "cat:sites"}), "0");
}

TEST_F(GatewayTest, IdentityAndRequestIdAreForwardedAsMetadata) {
  HttpResult r = HttpCall(port_, "GET", "/v1/applicants/a1/notifications?unreadOnly=true", "",
                          {Token("coordinators/c7", "coordinator", "sites/mercy"),
                           "X-Clerkship-Principal: admins/root", "X-Request-Id: trace-42"});
  ASSERT_EQ(r.status, 200) << r.body;
  Json n = Body(r)["notifications"][0];
  EXPECT_EQ(n["title"], "coordinators/c7");  // the principal the service saw
  EXPECT_EQ(n["body"], "coordinator");
  EXPECT_EQ(n["subject"], "sites/mercy");
  EXPECT_EQ(n["type"], "trace-42");
  EXPECT_EQ(n["recipient"], "applicants/a1");
  EXPECT_EQ(n["read"], true);  // from the query parameter
  EXPECT_EQ(r.header("x-request-id"), "trace-42");

  // A malformed request id is replaced by a fresh one.
  HttpResult fresh = HttpCall(port_, "GET", "/v1/applicants/a1/notifications", "",
                              {Applicant(), "X-Request-Id: bad id with spaces"});
  ASSERT_EQ(fresh.status, 200);
  EXPECT_NE(Body(fresh)["notifications"][0]["type"], "bad id with spaces");
  EXPECT_EQ(Body(fresh)["notifications"][0]["type"], fresh.header("x-request-id"));
  EXPECT_EQ(Body(fresh)["notifications"][0]["subject"], "");  // applicants carry no site
}

// --- deadlines -------------------------------------------------------------------------------

TEST_F(GatewayTest, DeadlineFromTheRequestHeader) {
  absl::Time start = absl::Now();
  HttpResult slow = HttpCall(port_, "GET", "/v1/applicants/a1/notificationSettings", "",
                             {Applicant(), "X-Request-Timeout: 0.2"});
  EXPECT_EQ(slow.status, 504) << slow.body;
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(1500));
  HttpResult grpc_style = HttpCall(port_, "GET", "/v1/applicants/a1/notificationSettings", "",
                                   {Applicant(), "grpc-timeout: 150m"});
  EXPECT_EQ(grpc_style.status, 504);
  HttpResult bad = HttpCall(port_, "GET", "/v1/sites", "", {"X-Request-Timeout: soon"});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ViolatedFields(bad), std::set<std::string>{"X-Request-Timeout"});
}

// --- transport limits and malformed HTTP ----------------------------------------------------

TEST_F(GatewayTest, OversizedBodiesAre413) {
  std::string big = R"({"displayName":")" + std::string(100 << 10, 'x') + "\"}";
  HttpResult r = HttpCall(port_, "POST", "/v1/sites", big, {Admin()});
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(Reason(r), "BODY_TOO_LARGE");
  // Refused on the declared length alone, before the body is sent.
  HttpConnection c(port_);
  ASSERT_TRUE(c.SendRaw("POST /v1/sites HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"));
  auto early = c.Read();
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(early->status, 413);
  EXPECT_TRUE(c.ClosedWithin(absl::Seconds(2)));
  // A chunked body over the limit too.
  HttpConnection chunked(port_);
  std::string chunk(40 << 10, 'a');
  ASSERT_TRUE(chunked.SendRaw(
      absl::StrCat("POST /v1/sites HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                   absl::Hex(chunk.size()), "\r\n", chunk, "\r\n", absl::Hex(chunk.size()), "\r\n",
                   chunk, "\r\n0\r\n\r\n")));
  auto r2 = chunked.Read();
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r2->status, 413);
}

TEST_F(GatewayTest, OversizedHeadersAre431) {
  HttpResult r = HttpCall(port_, "GET", "/v1/sites", "", {"X-Junk: " + std::string(16 << 10, 'j')});
  EXPECT_EQ(r.status, 431);
  HttpResult target = HttpCall(port_, "GET", "/v1/sites?q=" + std::string(16 << 10, 'q'));
  EXPECT_EQ(target.status, 431);
}

TEST_F(GatewayTest, MalformedHttpIsAnsweredAndTheServerCarriesOn) {
  const std::string garbage[] = {
      "GARBAGE\r\n\r\n",
      "GET /v1/sites HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "GET /v1/sites HTTP/9.9\r\n\r\n",
      "GET /v1/sites HTTP/1.1\r\nBad Header\r\n\r\n",
      "POST /v1/sites HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "GET http://evil.example/v1/sites HTTP/1.1\r\nHost: x\r\n\r\n",
      std::string("GET /v1/\0sites HTTP/1.1\r\n\r\n", 27),
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  // a TLS ClientHello
  };
  for (const std::string& bytes : garbage) {
    HttpConnection c(port_);
    ASSERT_TRUE(c.SendRaw(bytes));
    // A 4xx answer (and, when the bytes were not HTTP, the connection closed), never a hang.
    c.SetTimeout(absl::Seconds(3));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << bytes;
    EXPECT_GE(r->status, 400) << bytes;
    EXPECT_TRUE(r->status < 500 || r->status == 505) << r->status << " for " << bytes;
  }
  EXPECT_EQ(HttpCall(port_, "GET", "/v1/sites").status, 200);
}

TEST_F(GatewayTest, KeepAliveServesManyRequestsOnOneConnection) {
  HttpConnection c(port_);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send("GET", "/v1/sites"));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200);
  }
  // Two pipelined requests are answered in order.
  ASSERT_TRUE(c.SendRaw(
      "GET /v1/sites HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = c.Read();
  auto second = c.Read();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(second->status, 404);
  // HTTP/1.0 without keep-alive: closed after the response.
  HttpConnection old(port_);
  ASSERT_TRUE(old.SendRaw("GET /healthz HTTP/1.0\r\n\r\n"));
  auto r = old.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(old.ClosedWithin(absl::Seconds(2)));
}

TEST_F(GatewayTest, SlowAndIdleClientsAreDisconnected) {
  GatewayOptions o = BaseOptions();
  o.http.read_timeout = absl::Milliseconds(300);
  o.http.idle_timeout = absl::Milliseconds(300);
  extra_gateways_.push_back(StartGateway(o));
  int port = extra_gateways_.back()->port();
  // Half a request, then nothing: dropped after the read timeout.
  HttpConnection slow(port);
  ASSERT_TRUE(slow.SendRaw("GET /v1/sites HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  EXPECT_TRUE(slow.ClosedWithin(absl::Seconds(3)));
  // A connection that never sends anything.
  HttpConnection idle(port);
  EXPECT_TRUE(idle.ClosedWithin(absl::Seconds(3)));
  // Idle after a response.
  HttpConnection after(port);
  ASSERT_TRUE(after.Send("GET", "/healthz"));
  ASSERT_TRUE(after.Read().has_value());
  EXPECT_TRUE(after.ClosedWithin(absl::Seconds(3)));
}

// --- rate limiting and CORS ------------------------------------------------------------------

TEST_F(GatewayTest, RateLimitPerTokenSubjectAnswers429WithRetryAfter) {
  GatewayOptions o = BaseOptions();
  o.rate_limit_per_second = 0.5;
  o.rate_limit_burst = 2;
  extra_gateways_.push_back(StartGateway(o));
  int port = extra_gateways_.back()->port();
  std::string a1 = Applicant("a1");
  EXPECT_EQ(HttpCall(port, "GET", "/v1/sites", "", {a1}).status, 200);
  EXPECT_EQ(HttpCall(port, "GET", "/v1/sites", "", {a1}).status, 200);
  HttpResult limited = HttpCall(port, "GET", "/v1/sites", "", {a1});
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(Reason(limited), "RATE_LIMITED");
  int retry_after = 0;
  ASSERT_TRUE(absl::SimpleAtoi(limited.header("retry-after"), &retry_after)) << limited.body;
  EXPECT_GE(retry_after, 1);
  EXPECT_LE(retry_after, 2);
  // Another subject has its own bucket; anonymous callers are limited per address.
  EXPECT_EQ(HttpCall(port, "GET", "/v1/sites", "", {Applicant("a2")}).status, 200);
  EXPECT_EQ(HttpCall(port, "GET", "/v1/sites").status, 200);
  EXPECT_EQ(HttpCall(port, "GET", "/v1/sites").status, 200);
  EXPECT_EQ(HttpCall(port, "GET", "/v1/sites").status, 429);
}

TEST_F(GatewayTest, CorsForConfiguredOrigins) {
  HttpResult preflight =
      HttpCall(port_, "OPTIONS", "/v1/sites", "",
               {std::string("Origin: ") + kAllowedOrigin, "Access-Control-Request-Method: POST",
                "Access-Control-Request-Headers: authorization, content-type"});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.header("access-control-allow-origin"), kAllowedOrigin);
  EXPECT_THAT(preflight.header("access-control-allow-methods"), HasSubstr("POST"));
  EXPECT_THAT(preflight.header("access-control-allow-headers"), HasSubstr("Authorization"));

  HttpResult get =
      HttpCall(port_, "GET", "/v1/sites", "", {std::string("Origin: ") + kAllowedOrigin});
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.header("access-control-allow-origin"), kAllowedOrigin);
  EXPECT_EQ(get.header("vary"), "Origin");

  HttpResult evil =
      HttpCall(port_, "OPTIONS", "/v1/sites", "",
               {"Origin: https://evil.example", "Access-Control-Request-Method: POST"});
  EXPECT_EQ(evil.status, 403);
  EXPECT_EQ(evil.header("access-control-allow-origin"), "");
  HttpResult evil_get = HttpCall(port_, "GET", "/v1/sites", "", {"Origin: https://evil.example"});
  EXPECT_EQ(evil_get.header("access-control-allow-origin"), "");
  EXPECT_EQ(HttpCall(port_, "OPTIONS", "/v1/nothing").status, 404);
}

// --- server-sent events ----------------------------------------------------------------------

TEST_F(GatewayTest, NotificationStreamIsServerSentEvents) {
  HttpConnection c(port_);
  ASSERT_TRUE(c.Send("GET", "/v1/applicants/a1/notifications:stream", "", {Applicant("a1")}));
  // Headers come even though the backend has sent nothing yet.
  ASSERT_TRUE(c.ReadUntil("\r\n\r\n", absl::Seconds(5))) << c.received();
  EXPECT_THAT(c.received(), HasSubstr("HTTP/1.1 200"));
  EXPECT_THAT(c.received(), HasSubstr("text/event-stream"));
  ASSERT_TRUE(WaitUntil([&] { return notifications_.open_streams() == 1; }));
  // Heartbeats keep the quiet connection alive through proxies.
  EXPECT_TRUE(c.ReadUntil(": keep-alive", absl::Seconds(5)));
  notifications_.Publish("You have an offer");
  ASSERT_TRUE(c.ReadUntil("You have an offer", absl::Seconds(5))) << c.received();
  EXPECT_THAT(c.received(), HasSubstr("event: message\ndata: {"));
  EXPECT_THAT(c.received(), HasSubstr(R"("type":"application.offered")"));
  notifications_.Publish("Second");
  ASSERT_TRUE(c.ReadUntil("Second", absl::Seconds(5)));

  // The client goes away: the gRPC stream is cancelled.
  c.Close();
  EXPECT_TRUE(WaitUntil([&] { return notifications_.cancelled_streams.load() == 1; }));
  EXPECT_TRUE(WaitUntil([&] { return notifications_.open_streams() == 0; }));
}

TEST_F(GatewayTest, StreamErrorsBeforeTheFirstEventAreHttpErrors) {
  // Another applicant's stream: the service refuses at once, so the client gets a real 403.
  HttpResult r =
      HttpCall(port_, "GET", "/v1/applicants/a2/notifications:stream", "", {Applicant("a1")});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(Body(r)["error"]["status"], "PERMISSION_DENIED");
  EXPECT_EQ(HttpCall(port_, "GET", "/v1/applicants/a1/notifications:stream").status, 401);
}

TEST_F(GatewayTest, ShutdownEndsOpenStreams) {
  HttpConnection c(port_);
  ASSERT_TRUE(c.Send("GET", "/v1/applicants/a1/notifications:stream", "", {Applicant("a1")}));
  ASSERT_TRUE(c.ReadUntil("\r\n\r\n", absl::Seconds(5)));
  ASSERT_TRUE(WaitUntil([&] { return notifications_.open_streams() == 1; }));
  absl::Time start = absl::Now();
  gateway_->Shutdown();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_TRUE(c.ClosedWithin(absl::Seconds(2)));
  EXPECT_TRUE(WaitUntil([&] { return notifications_.cancelled_streams.load() == 1; }));
}

// --- the gateway's own endpoints -------------------------------------------------------------

TEST_F(GatewayTest, HealthReadinessAndMetrics) {
  HttpResult health = HttpCall(port_, "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  HttpResult ready = HttpCall(port_, "GET", "/readyz");
  EXPECT_EQ(ready.status, 503);  // applicant and matching are not running
  Json backends = Body(ready)["backends"];
  EXPECT_EQ(backends["catalog"], "SERVING");
  EXPECT_EQ(backends["notification"], "SERVING");  // the default health service of a plain server
  EXPECT_EQ(backends["applicant"], "UNREACHABLE");

  ASSERT_EQ(HttpCall(port_, "GET", "/v1/sites").status, 200);
  ASSERT_EQ(HttpCall(port_, "GET", "/v1/sites/none").status, 404);
  HttpResult metrics = HttpCall(port_, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.header("content-type"), HasSubstr("text/plain"));
  EXPECT_THAT(
      metrics.body,
      HasSubstr(R"(clerkship_gateway_http_requests_total{code="200",route="GET /v1/sites"} 1)"));
  EXPECT_THAT(metrics.body, HasSubstr(R"(code="404",route="GET /v1/{name=sites/*}")"));
  EXPECT_THAT(metrics.body, HasSubstr("clerkship_gateway_http_request_duration_seconds_bucket"));
  EXPECT_THAT(metrics.body, HasSubstr("clerkship_gateway_http_connections"));
}

TEST_F(GatewayTest, OpenApiDocumentIsServedAndValid) {
  HttpResult r = HttpCall(port_, "GET", "/openapi.json");
  ASSERT_EQ(r.status, 200);
  Json doc = Body(r);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc["openapi"], "3.0.3");
  EXPECT_TRUE(doc["paths"].contains("/v1/sites/{siteId}"));
  EXPECT_TRUE(doc["paths"]["/v1/sites"].contains("post"));
  EXPECT_TRUE(doc["components"]["schemas"].contains("clerkship.catalog.v1.Rotation"));
  EXPECT_EQ(doc, Json::parse(gateway_->openapi_json()));

  // Full validation as OpenAPI 3 by an independent validator, when node is available.
  if (std::system("command -v node >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "node is not installed: OpenAPI schema validation skipped "
                    "(apt-get install nodejs npm to run it)";
  }
  const std::string dir = GATEWAY_OPENAPI_CHECK_DIR;
  if (std::system(("test -d " + dir + "/node_modules/@apidevtools/swagger-parser").c_str()) != 0) {
    std::string install = "cd " + dir +
                          " && flock .install.lock npm install --no-audit --no-fund --silent "
                          ">/dev/null 2>&1";
    if (std::system(install.c_str()) != 0) {
      GTEST_SKIP() << "could not npm install @apidevtools/swagger-parser into " << dir
                   << " (no registry access?): OpenAPI schema validation skipped";
    }
  }
  char path[] = "/tmp/gateway-openapi-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << r.body;
  std::string validate = "node " + dir + "/validate.js " + path + " 2>&1";
  FILE* out = popen(validate.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), out) != nullptr) output += buf;
  int rc = pclose(out);
  std::remove(path);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_THAT(output, HasSubstr("valid OpenAPI 3.0.3"));
}

}  // namespace
}  // namespace clerkship::gateway
