// TLS between the services and on the gateway, with certificates made by this test:
// - a service with TLS takes clients that trust its CA and refuses plaintext clients and
//   clients trusting another CA; with mutual TLS it also refuses clients without a
//   certificate or with one from another CA;
// - the real binaries: certificate files that cannot be read or do not match stop the
//   process with status 2; applicant → catalog works over mutual TLS (and fails without the
//   client certificate); the gateway serves HTTPS (/healthz and a catalog route through a
//   TLS backend channel).

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clerkship/applicant/v1/applicant.grpc.pb.h"
#include "common/config/config.h"
#include "common/server/server_runner.h"
#include "common/tls/tls.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/security/tls/test_process.h"
#include "tests/support/grpc_test_util.h"
#include "tests/support/test_redis.h"

namespace clerkship {
namespace {

using testing::ChildProcess;
using testing::FreePort;
using testing::TestPki;
using testing::TestRedis;

TestPki* pki = nullptr;

class TlsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    pki = new TestPki();
    ASSERT_TRUE(pki->Generate()) << pki->error();
  }
  void TearDown() override {
    delete pki;
    pki = nullptr;
  }
};
::testing::Environment* const env = ::testing::AddGlobalTestEnvironment(new TlsEnvironment);

tls::ServerTlsConfig ServerTls(bool mutual) {
  tls::ServerTlsConfig c;
  c.cert_chain_pem = pki->Pem("server.pem");
  c.private_key_pem = pki->Pem("server.key");
  if (mutual) c.client_ca_pem = pki->Pem("ca.pem");
  return c;
}

tls::ClientTlsConfig ClientTls(const std::string& trusted_ca, const std::string& cert = "") {
  tls::ClientTlsConfig c;
  c.ca_pem = pki->Pem(trusted_ca + ".pem");
  if (!cert.empty()) {
    c.cert_chain_pem = pki->Pem(cert + ".pem");
    c.private_key_pem = pki->Pem(cert + ".key");
  }
  return c;
}

// A health check over `channel`: OK with SERVING, or the error.
grpc::Status Probe(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status s = stub->Check(&context, request, &response);
  if (s.ok() && response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "not SERVING");
  }
  return s;
}

std::unique_ptr<ServerRunner> StartRunner(const tls::ServerTlsConfig& config,
                                          const std::string& health_address = "") {
  ServerOptions options;
  options.service_name = "tls-test";
  options.listen_address = "127.0.0.1:0";
  options.drain_period = absl::ZeroDuration();
  options.shutdown_deadline = absl::Milliseconds(100);
  options.credentials = tls::ServerCredentials(config);
  options.health_listen_address = health_address;
  auto runner = std::make_unique<ServerRunner>(options);
  absl::Status s = runner->Start();
  EXPECT_TRUE(s.ok()) << s;
  return runner;
}

// --- a service with TLS -------------------------------------------------------------------

TEST(GrpcTls, AcceptsClientsTrustingTheCaOnly) {
  auto runner = StartRunner(ServerTls(/*mutual=*/false));
  const std::string address = runner->address();

  EXPECT_TRUE(Probe(tls::CreateChannel(address, ClientTls("ca"))).ok());
  // The certificate is for 127.0.0.1 and localhost; the name checked can be overridden.
  tls::ClientTlsConfig by_name = ClientTls("ca");
  by_name.server_name_override = "localhost";
  EXPECT_TRUE(Probe(tls::CreateChannel(address, by_name)).ok());

  grpc::Status plaintext = Probe(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  EXPECT_EQ(plaintext.error_code(), grpc::StatusCode::UNAVAILABLE) << plaintext.error_message();
  grpc::Status wrong_ca = Probe(tls::CreateChannel(address, ClientTls("other-ca")));
  EXPECT_EQ(wrong_ca.error_code(), grpc::StatusCode::UNAVAILABLE) << wrong_ca.error_message();
  tls::ClientTlsConfig wrong_name = ClientTls("ca");
  wrong_name.server_name_override = "catalog.example.org";
  EXPECT_FALSE(Probe(tls::CreateChannel(address, wrong_name)).ok());
  runner->Shutdown();
}

TEST(GrpcTls, MutualTlsRequiresAClientCertificateFromTheCa) {
  auto runner = StartRunner(ServerTls(/*mutual=*/true));
  const std::string address = runner->address();

  EXPECT_TRUE(Probe(tls::CreateChannel(address, ClientTls("ca", "client"))).ok());
  EXPECT_FALSE(Probe(tls::CreateChannel(address, ClientTls("ca"))).ok())
      << "a client without a certificate got in";
  EXPECT_FALSE(Probe(tls::CreateChannel(address, ClientTls("ca", "other-client"))).ok())
      << "a client with a certificate from another CA got in";
  EXPECT_FALSE(Probe(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())).ok());
  runner->Shutdown();
}

TEST(GrpcTls, PlaintextHealthPortServesOnlyHealthChecks) {
  const int health_port = FreePort();
  auto runner = StartRunner(ServerTls(/*mutual=*/true), absl::StrCat("127.0.0.1:", health_port));
  auto plaintext = grpc::CreateChannel(absl::StrCat("127.0.0.1:", health_port),
                                       grpc::InsecureChannelCredentials());
  // What a Kubernetes gRPC probe does: plaintext Check, overall and "liveness".
  EXPECT_TRUE(Probe(plaintext).ok());
  EXPECT_EQ(testing::HealthOf(plaintext, "liveness"),
            grpc::health::v1::HealthCheckResponse::SERVING);
  // The health port follows the server's status (NOT_SERVING while it drains, for example).
  runner->SetServing(false);
  EXPECT_EQ(testing::HealthOf(plaintext, ""), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  runner->SetServing(true);
  // Nothing but health there: another service's method is UNIMPLEMENTED.
  auto stub = clerkship::applicant::v1::ApplicantService::NewStub(plaintext);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  clerkship::applicant::v1::GetApplicantRequest request;
  clerkship::applicant::v1::Applicant response;
  EXPECT_EQ(stub->GetApplicant(&context, request, &response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  runner->Shutdown();
}

// --- configuration --------------------------------------------------------------------------

absl::Status ParseServerTls(const std::vector<std::string>& flags) {
  Config config("test", "test");
  tls::AddServerTlsFlags(&config);
  tls::AddClientTlsFlags(&config);
  std::vector<const char*> argv = {"test"};
  for (const std::string& f : flags) argv.push_back(f.c_str());
  absl::Status parsed = config.Parse(static_cast<int>(argv.size()), argv.data(),
                                     [](const std::string&) { return std::nullopt; });
  if (!parsed.ok()) return parsed;
  absl::StatusOr<tls::ServerTlsConfig> server = tls::ServerTlsFromConfig(config);
  if (!server.ok()) return server.status();
  return tls::ClientTlsFromConfig(config).status();
}

TEST(TlsConfig, ExplainsBadCertificateSettings) {
  EXPECT_TRUE(ParseServerTls({}).ok());
  EXPECT_TRUE(ParseServerTls({"--tls_cert_file=" + pki->Path("server.pem"),
                              "--tls_key_file=" + pki->Path("server.key"),
                              "--tls_client_ca_file=" + pki->Path("ca.pem"),
                              "--tls_ca_file=" + pki->Path("ca.pem"),
                              "--tls_client_cert_file=" + pki->Path("server.pem"),
                              "--tls_client_key_file=" + pki->Path("server.key")})
                  .ok());

  auto message = [](const absl::Status& s) { return std::string(s.message()); };
  absl::Status missing = ParseServerTls({"--tls_cert_file=" + pki->Path("nope.pem"),
                                         "--tls_key_file=" + pki->Path("server.key")});
  EXPECT_TRUE(absl::StrContains(message(missing), "--tls_cert_file: cannot read")) << missing;
  absl::Status half = ParseServerTls({"--tls_cert_file=" + pki->Path("server.pem")});
  EXPECT_TRUE(absl::StrContains(message(half), "must be set together")) << half;
  absl::Status mismatched = ParseServerTls({"--tls_cert_file=" + pki->Path("server.pem"),
                                            "--tls_key_file=" + pki->Path("client.key")});
  EXPECT_TRUE(absl::StrContains(message(mismatched), "does not match")) << mismatched;
  absl::Status not_pem = ParseServerTls({"--tls_cert_file=" + pki->Path("leaf.ext"),
                                         "--tls_key_file=" + pki->Path("server.key")});
  EXPECT_TRUE(absl::StrContains(message(not_pem), "no PEM certificate")) << not_pem;
  absl::Status mtls_without_tls = ParseServerTls({"--tls_client_ca_file=" + pki->Path("ca.pem")});
  EXPECT_FALSE(mtls_without_tls.ok());
  absl::Status client_cert_without_ca =
      ParseServerTls({"--tls_client_cert_file=" + pki->Path("client.pem"),
                      "--tls_client_key_file=" + pki->Path("client.key")});
  EXPECT_TRUE(absl::StrContains(message(client_cert_without_ca), "--tls_ca_file"))
      << client_cert_without_ca;
  absl::Status client_mismatch = ParseServerTls({"--tls_ca_file=" + pki->Path("ca.pem"),
                                                 "--tls_client_cert_file=" + pki->Path("client.pem"),
                                                 "--tls_client_key_file=" + pki->Path("server.key")});
  EXPECT_TRUE(absl::StrContains(message(client_mismatch), "does not match")) << client_mismatch;
}

std::string LogPath(const std::string& name) { return pki->Path(name + ".log"); }

TEST(TlsConfig, ServiceWithUnusableCertificateFilesExitsWithStatus2) {
  ChildProcess unreadable(CLERKSHIP_CATALOG_BIN,
                          {"--port=0", "--metrics_port=0", "--redis_addr=127.0.0.1:1",
                           "--tls_cert_file=" + pki->Path("missing.pem"),
                           "--tls_key_file=" + pki->Path("server.key")},
                          LogPath("unreadable"));
  EXPECT_EQ(unreadable.WaitForExit(absl::Seconds(20)), 2);
  EXPECT_TRUE(absl::StrContains(unreadable.Log(), "--tls_cert_file")) << unreadable.Log();

  ChildProcess mismatched(CLERKSHIP_APPLICANT_BIN,
                          {"--port=0", "--metrics_port=0", "--redis_addr=127.0.0.1:1",
                           "--tls_ca_file=" + pki->Path("ca.pem"),
                           "--tls_client_cert_file=" + pki->Path("client.pem"),
                           "--tls_client_key_file=" + pki->Path("other-client.key")},
                          LogPath("mismatched"));
  EXPECT_EQ(mismatched.WaitForExit(absl::Seconds(20)), 2);
  EXPECT_TRUE(absl::StrContains(mismatched.Log(), "does not match")) << mismatched.Log();
}

// --- the real services over TLS --------------------------------------------------------------

bool Listening(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Waits for a starting service to listen and answer SERVING over TLS. The port is watched
// with plain TCP first: a gRPC channel that saw "connection refused" backs off for seconds.
bool WaitServing(int port, ChildProcess* process) {
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!Listening(port)) {
    if (absl::Now() > deadline || !process->running()) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  auto channel = tls::CreateChannel(absl::StrCat("127.0.0.1:", port), ClientTls("ca", "client"));
  while (absl::Now() < deadline && process->running()) {
    if (Probe(channel).ok()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

// Runs curl; returns "<status>\n<body>" or "" when the request failed.
std::string Curl(const std::vector<std::string>& args) {
  std::string command = "curl -sS --max-time 10 -w '\\n%{http_code}'";
  for (const std::string& a : args) absl::StrAppend(&command, " '", a, "'");
  absl::StrAppend(&command, " 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  int rc = pclose(pipe);
  return rc == 0 ? out : "";
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class ServicesOverTls : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = TestRedis::Start();
    ASSERT_NE(redis_, nullptr);
  }

  // The flags every service gets: its certificate, mutual TLS with the one CA, and the same
  // certificate as a client of the other services.
  std::vector<std::string> ServiceFlags(int port) {
    std::vector<std::string> flags = {
        absl::StrCat("--port=", port),
        "--listen_host=127.0.0.1",
        "--metrics_port=0",
        "--drain_period=0s",
        "--shutdown_deadline=1s",
        "--log_level=warning",
        absl::StrCat("--redis_addr=", redis_->address()),
        "--tls_cert_file=" + pki->Path("server.pem"),
        "--tls_key_file=" + pki->Path("server.key"),
        "--tls_client_ca_file=" + pki->Path("ca.pem"),
    };
    return flags;
  }
  std::vector<std::string> ClientFlags(bool with_client_cert = true) {
    std::vector<std::string> flags = {"--tls_ca_file=" + pki->Path("ca.pem")};
    if (with_client_cert) {
      flags.push_back("--tls_client_cert_file=" + pki->Path("server.pem"));
      flags.push_back("--tls_client_key_file=" + pki->Path("server.key"));
    }
    return flags;
  }

  std::unique_ptr<TestRedis> redis_;
};


namespace app = clerkship::applicant::v1;

grpc::Status CheckEligibility(const std::shared_ptr<grpc::Channel>& channel,
                              const std::string& applicant_id) {
  auto stub = app::ApplicantService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  testing::SetIdentity(&context, "applicant", "applicants/" + applicant_id);
  app::CheckEligibilityRequest request;
  request.set_applicant("applicants/" + applicant_id);
  request.set_rotation("rotations/no-such-rotation");
  app::CheckEligibilityResponse response;
  return stub->CheckEligibility(&context, request, &response);
}

TEST_F(ServicesOverTls, ApplicantCallsCatalogAndGatewayServesHttps) {
  const int catalog_port = FreePort();
  const int catalog_health_port = FreePort();
  ChildProcess catalog(
      CLERKSHIP_CATALOG_BIN,
      Concat(ServiceFlags(catalog_port), {absl::StrCat("--health_port=", catalog_health_port)}),
      LogPath("catalog"));
  const std::string catalog_addr = absl::StrCat("127.0.0.1:", catalog_port);
  ASSERT_TRUE(WaitServing(catalog_port, &catalog))
      << catalog.Log();
  EXPECT_EQ(testing::HealthOf(grpc::CreateChannel(absl::StrCat("127.0.0.1:", catalog_health_port),
                                                  grpc::InsecureChannelCredentials()),
                              "clerkship.catalog.v1.CatalogService"),
            grpc::health::v1::HealthCheckResponse::SERVING);

  const int applicant_port = FreePort();
  ChildProcess applicant(
      CLERKSHIP_APPLICANT_BIN,
      Concat(Concat(ServiceFlags(applicant_port), ClientFlags()),
             {"--catalog_addr=" + catalog_addr}),
      LogPath("applicant"));
  // An applicant without a client certificate: the catalog refuses its calls.
  const int lone_port = FreePort();
  ChildProcess lone_applicant(
      CLERKSHIP_APPLICANT_BIN,
      Concat(Concat(ServiceFlags(lone_port), ClientFlags(/*with_client_cert=*/false)),
             {"--catalog_addr=" + catalog_addr}),
      LogPath("lone-applicant"));
  ASSERT_TRUE(WaitServing(applicant_port, &applicant)) << applicant.Log();
  ASSERT_TRUE(WaitServing(lone_port, &lone_applicant)) << lone_applicant.Log();
  auto applicant_channel = tls::CreateChannel(absl::StrCat("127.0.0.1:", applicant_port),
                                              ClientTls("ca", "client"));
  auto lone_channel =
      tls::CreateChannel(absl::StrCat("127.0.0.1:", lone_port), ClientTls("ca", "client"));

  {
    auto stub = app::ApplicantService::NewStub(applicant_channel);
    grpc::ClientContext context;
    testing::SetIdentity(&context, "applicant", "applicants/asha");
    app::CreateApplicantRequest request;
    app::Applicant* a = request.mutable_applicant();
    a->set_given_name("Asha");
    a->set_family_name("Rao");
    a->set_email("asha@example.org");
    a->set_training_stage(type::v1::GRADUATE);
    a->set_medical_school("Grant Medical College");
    a->set_school_country("IN");
    a->set_graduation_year(2025);
    a->set_step1_status(type::v1::STEP1_PASSED);
    a->set_step2ck_score(241);
    a->set_ecfmg_certified(true);
    a->set_visa_status(type::v1::J1);
    a->add_specialty_interests(type::v1::INTERNAL_MEDICINE);
    a->set_time_zone("Asia/Kolkata");
    app::Applicant created;
    grpc::Status s = stub->CreateApplicant(&context, request, &created);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // The rotation is looked up in the catalog: NOT_FOUND is the catalog's answer, which only
  // arrives over a working mutual-TLS channel.
  grpc::Status answered = CheckEligibility(applicant_channel, "asha");
  EXPECT_EQ(answered.error_code(), grpc::StatusCode::NOT_FOUND) << answered.error_message();
  EXPECT_TRUE(absl::StrContains(answered.error_message(), "rotation"))
      << answered.error_message();
  // The same request through the applicant without a client certificate cannot reach the
  // catalog (it shares Redis, so the applicant profile is there).
  grpc::Status refused = CheckEligibility(lone_channel, "asha");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();

  // The gateway: HTTPS outside, TLS with a client certificate to the catalog.
  const int gateway_port = FreePort();
  std::vector<std::string> gateway_flags = {
      absl::StrCat("--port=", gateway_port),
      "--listen_host=127.0.0.1",
      "--drain_period=0s",
      "--shutdown_deadline=1s",
      "--access_log=false",
      "--jwt_secret=tls-test-secret-of-at-least-32-bytes!",
      "--catalog_addr=" + catalog_addr,
      absl::StrCat("--applicant_addr=127.0.0.1:", applicant_port),
      "--tls_cert_file=" + pki->Path("server.pem"),
      "--tls_key_file=" + pki->Path("server.key"),
  };
  ChildProcess gateway(CLERKSHIP_GATEWAY_BIN, Concat(gateway_flags, ClientFlags()),
                       LogPath("gateway"));
  const std::string base = absl::StrCat("https://127.0.0.1:", gateway_port);
  std::string health;
  for (absl::Time deadline = absl::Now() + absl::Seconds(30);
       absl::Now() < deadline && gateway.running() && health.empty();) {
    health = Curl({"--cacert", pki->Path("ca.pem"), base + "/healthz"});
    if (health.empty()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(absl::EndsWith(health, "\n200")) << health << gateway.Log();
  EXPECT_TRUE(absl::StrContains(health, "SERVING")) << health;

  std::string sites = Curl({"--cacert", pki->Path("ca.pem"), base + "/v1/sites"});
  EXPECT_TRUE(absl::EndsWith(sites, "\n200")) << sites << gateway.Log();
  EXPECT_TRUE(absl::StrContains(sites, "\"sites\"")) << sites;

  // TLS 1.2 is the floor; plain HTTP and clients that do not trust the CA get nothing.
  EXPECT_EQ(Curl({"--cacert", pki->Path("ca.pem"), "--tlsv1.1", "--tls-max", "1.1",
                  base + "/healthz"}),
            "");
  EXPECT_EQ(Curl({absl::StrCat("http://127.0.0.1:", gateway_port, "/healthz")}), "");
  EXPECT_EQ(Curl({"--cacert", pki->Path("other-ca.pem"), base + "/healthz"}), "");
  EXPECT_TRUE(gateway.running()) << gateway.Log();

  // Clean shutdowns, no sanitizer reports.
  for (ChildProcess* p : {&gateway, &lone_applicant, &applicant, &catalog}) {
    EXPECT_EQ(p->Stop(), 0) << p->Log();
    EXPECT_FALSE(absl::StrContains(p->Log(), "Sanitizer")) << p->Log();
  }
}

}  // namespace
}  // namespace clerkship
