#pragma once

// An OpenAPI 3.0 document generated from the same route table the gateway serves, so that it
// cannot drift from the routes: paths (resource-name variables expanded into one path
// parameter per id: "/v1/{name=rotations/*/sessions/*}" is
// "/v1/rotations/{rotationId}/sessions/{sessionId}"), query parameters for the fields a GET
// leaves to the query, request and response schemas in the proto3 JSON mapping, enums, the
// error body, and bearer authentication on the routes that need a token.

#include <string>

#include "services/gateway/route_table.h"

namespace clerkship::gateway {

struct OpenApiOptions {
  std::string title = "Clerkship placement API";
  std::string version = "v1";
  std::string description;
};

std::string BuildOpenApi(const RouteTable& routes, const OpenApiOptions& options);

// The OpenAPI rendering of a route's path template, e.g. "/v1/sites/{siteId}:publish".
std::string OpenApiPath(const PathTemplate& path);

}  // namespace clerkship::gateway
