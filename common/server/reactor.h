#pragma once

// Glue between asynchronous domain code and the gRPC callback API: a handler starts the
// work and returns its reactor; the completion callback copies the result into the
// response and finishes the RPC with the status (details included).

#include <functional>
#include <utility>

#include <grpcpp/support/server_callback.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status/status.h"

namespace clerkship {

inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                           const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

template <typename T>
std::function<void(absl::StatusOr<T>)> Respond(grpc::ServerUnaryReactor* reactor, T* response) {
  return [reactor, response](absl::StatusOr<T> result) {
    if (result.ok()) *response = std::move(*result);
    reactor->Finish(ToGrpcStatus(result.status()));
  };
}

}  // namespace clerkship
