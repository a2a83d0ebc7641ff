#pragma once

// The services the gateway fronts and the backend serving each. Every service of these proto
// files is read from the compiled-in descriptors; its annotated RPCs become routes. A new
// RPC needs no change here; a new backend needs one line in fronted_services.cc and an
// --<name>_addr flag.

#include <set>
#include <string>
#include <vector>

#include "services/gateway/route_table.h"

namespace clerkship::gateway {

struct BackendDescriptor {
  std::string name;          // "catalog": flag --catalog_addr, env CLERKSHIP_CATALOG_ADDR
  std::string default_addr;  // "127.0.0.1:50051"
};

// catalog, applicant, matching, notification.
const std::vector<BackendDescriptor>& KnownBackends();

// The services of every backend. GET routes of services named in anonymous_read_services
// need no token.
std::vector<FrontedService> FrontedServices(const std::set<std::string>& anonymous_read_services);

}  // namespace clerkship::gateway
