// clerkship-gateway: HTTP/JSON for mobile and web clients, transcoded to the services' gRPC
// APIs from their google.api.http annotations, with bearer-token authentication.

#include <signal.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/logging/log.h"
#include "common/server/mutex_settings.h"
#include "services/gateway/gateway.h"
#include "services/gateway/gateway_config.h"

int main(int argc, char** argv) {
  using namespace clerkship;
  // Termination signals are taken by sigwait below; blocked before any thread starts so that
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Config config("clerkship-gateway", "HTTP/JSON gateway in front of the clerkship services");
  gateway::AddGatewayFlags(&config);
  config.ParseOrExit(argc, argv);
  ApplyMutexSettings();
  log::SetService("gateway");
  log::Severity severity;
  if (log::ParseSeverity(config.GetString("log_level"), &severity)) log::SetMinSeverity(severity);

  absl::StatusOr<gateway::GatewayOptions> options = gateway::GatewayOptionsFromConfig(config);
  if (!options.ok()) {
    std::cerr << "clerkship-gateway: invalid configuration:\n"
              << options.status().message()
              << "\n\nRun clerkship-gateway --help for the list of settings.\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<gateway::Gateway>> gw = gateway::Gateway::Create(*options);
  if (!gw.ok()) {
    log::Error("cannot build the gateway", {{"error", std::string(gw.status().message())}});
    return 1;
  }
  if (absl::Status s = (*gw)->Start(); !s.ok()) {
    log::Error("cannot start", {{"error", std::string(s.message())}});
    return 1;
  }
  int signo = 0;
  sigwait(&signals, &signo);
  log::Info("termination signal received", {{"signal", absl::StrCat(signo)}});
  (*gw)->Shutdown();
  return 0;
}
