#pragma once

// HTTP/1.1 load against the gateway: one keep-alive connection per slot (closed loop, one
// request in flight per connection, no pipelining), all driven by one epoll thread, so no
// thread per request or per connection.

#include <memory>
#include <string>

#include "tests/bench/load/load_driver.h"

namespace clerkship::bench {

struct ScenarioEnv;

// GET /v1/rotations/{x} with `Authorization: Bearer <token>`; its baseline is get_rotation.
std::unique_ptr<Scenario> MakeHttpGetRotationScenario(ScenarioEnv* env);

// Parses one HTTP/1.1 response at the start of `data`. Returns 0 when more bytes are needed,
// -1 when the response is malformed, or the number of bytes the response takes; then sets
// `status` and `keep_alive`. Exposed for tests.
long ParseHttpResponse(const char* data, size_t size, int* status, bool* keep_alive);

}  // namespace clerkship::bench
