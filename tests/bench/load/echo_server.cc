#include "tests/bench/load/echo_server.h"

#include <signal.h>

#include <iostream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/config/config.h"
#include "common/logging/log.h"
#include "common/server/server_runner.h"
#include "echo.grpc.pb.h"

namespace clerkship::bench {
namespace {

class EchoServiceImpl final : public v1::EchoService::CallbackService {
 public:
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const v1::EchoRequest* request,
                                 v1::EchoResponse* response) override {
    response->set_payload(request->payload());
    int filler = request->response_bytes();
    if (filler > 0 && filler <= 1000000) response->mutable_filler()->assign(filler, 'x');
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// Blocks until SIGTERM or SIGINT.
int WaitForSignal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int signo = 0;
  sigwait(&signals, &signo);
  return signo;
}

}  // namespace

int EchoServerMain(int argc, char** argv) {
  Config config("clerkship-load echo-server", "bare gRPC echo server, the benchmark baseline");
  AddServerFlags(&config, 50060, 0);
  config.AddBool("runner", false,
                 "serve through the services' ServerRunner (interceptors, access log, metrics, "
                 "health) instead of a bare server with the same settings");
  config.ParseOrExit(argc, argv);
  InitProcess(config, "echo");
  EchoServiceImpl service;
  ServerOptions options = ServerOptionsFromConfig(config, "echo");

  if (config.GetBool("runner")) {
    ServerRunner runner(options);
    runner.AddService(&service, v1::EchoService::service_full_name());
    if (absl::Status s = runner.Start(); !s.ok()) {
      std::cerr << "echo-server: " << s.message() << "\n";
      return 1;
    }
    std::cout << "echo-server (ServerRunner) listening on port " << runner.port() << std::endl;
    runner.RunUntilSignalled();
    return 0;
  }

  // Threads started by gRPC inherit this mask, so that sigwait below gets the signal.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // The settings ServerRunner::Start applies (common/server/server_runner.cc), minus health,
  // reflection and interceptors.
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "echo-server: cannot listen on " << options.listen_address << "\n";
    return 1;
  }
  std::cout << "echo-server listening on port " << port << std::endl;
  log::Info("serving", {{"port", absl::StrCat(port)}});
  WaitForSignal();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}

}  // namespace clerkship::bench
