#pragma once

// The notification service's flags (each with its CLERKSHIP_* environment variable) and
// their translation into NotificationOptions.

#include "common/config/config.h"
#include "services/notification/notification_runtime.h"

namespace clerkship::notification {

void AddNotificationFlags(Config* config);
NotificationOptions NotificationOptionsFromConfig(const Config& config);
// hostname-pid: unique per process, stable for the life of the process.
std::string DefaultConsumerName();

}  // namespace clerkship::notification
