#pragma once

// `clerkship-load echo-server`: the baseline server. A callback-API service that answers
// at once, on the same gRPC library and with the same server settings (channel arguments,
// message size limit, callback threading) as ServerRunner gives every service.
//
//   --runner=false (default)  bare: ServerBuilder with ServerRunner's settings, nothing else
//   --runner=true             the real ServerRunner: health, reflection, the access-log and
//                             metrics interceptor, /metrics; the difference to the bare echo
//                             is what the common server layer costs per call

namespace clerkship::bench {

int EchoServerMain(int argc, char** argv);

}  // namespace clerkship::bench
