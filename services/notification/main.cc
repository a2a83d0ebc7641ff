// clerkship-notification: events to inbox, e-mail and signed webhooks; reminders;
// preferences; live streams.

#include <signal.h>

#include <memory>

#include "common/config/config.h"
#include "common/logging/log.h"
#include "common/server/server_runner.h"
#include "common/tls/tls.h"
#include "services/notification/notification_flags.h"
#include "services/notification/notification_runtime.h"

int main(int argc, char** argv) {
  using namespace clerkship;
  // Termination signals are taken with sigwait below, so every thread started from here
  // on inherits them blocked.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Config config("clerkship-notification",
                "notification service: inbox, e-mail, webhooks, reminders, live streams");
  AddServerFlags(&config, 50054, 9104);
  AddRedisFlags(&config);
  notification::AddNotificationFlags(&config);
  tls::AddClientTlsFlags(&config);
  config.ParseOrExit(argc, argv);
  // The runtime's channels to applicant and matching use it.
  tls::SetDefaultClientTls(tls::ClientTlsFromConfigOrExit(config));
  InitProcess(config, "notification");

  // The runner is destroyed first (explicitly, below): its server calls into the service,
  // and it watches the Redis client, both owned by the runtime.
  auto runner = std::make_unique<ServerRunner>(ServerOptionsFromConfig(config, "notification"));
  notification::NotificationRuntime runtime(
      notification::NotificationOptionsFromConfig(config), Clock::Real(), &runner->metrics());
  runner->AddService(runtime.service(),
                     notification::v1::NotificationService::service_full_name());
  runner->TrackRedisHealth(runtime.redis());
  if (absl::Status s = runner->Start(); !s.ok()) {
    log::Error("cannot start", {{"error", std::string(s.message())}});
    return 1;
  }
  runtime.Start();

  int signo = 0;
  sigwait(&signals, &signo);
  log::Info("termination signal received", {{"signal", std::to_string(signo)}});
  // Live streams end with UNAVAILABLE so clients reconnect elsewhere; then the usual drain.
  runtime.BeginShutdown();
  runner->Shutdown();
  runtime.Stop();
  runner.reset();
  return 0;
}
