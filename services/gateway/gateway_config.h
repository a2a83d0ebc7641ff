#pragma once

// The gateway's flags (each with its CLERKSHIP_<NAME> environment variable), checked at start:
// a bad value or a missing key stops the process with a message naming the setting.

#include "absl/status/statusor.h"
#include "common/config/config.h"
#include "services/gateway/gateway.h"

namespace clerkship::gateway {

// --jwt_algorithm, --jwt_secret, --jwt_public_key_file, --jwt_issuer, --jwt_audience: shared
// by the gateway and clerkship-admin.
void AddJwtFlags(Config* config);
void AddGatewayFlags(Config* config);

absl::StatusOr<GatewayOptions> GatewayOptionsFromConfig(const Config& config);

absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace clerkship::gateway
