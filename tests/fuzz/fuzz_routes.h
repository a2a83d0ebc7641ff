#pragma once

// The gateway's route table for the catalog's service, built once per fuzzer process: what
// the transcoding and path-template fuzzers route their inputs through.

#include "services/gateway/fronted_services.h"
#include "services/gateway/route_table.h"

namespace clerkship::fuzz {

inline const gateway::RouteTable& CatalogRouteTable() {
  static const gateway::RouteTable* table =
      gateway::RouteTable::Build(gateway::FrontedServices({"clerkship.catalog.v1.CatalogService"}))
          ->release();
  return *table;
}

}  // namespace clerkship::fuzz
