#pragma once

// A plaintext port that serves only grpc.health.v1.Health/Check, answering from the main
// server (over its in-process channel). Kubernetes' native gRPC probes cannot speak TLS, so
// a service whose port requires TLS (or client certificates) is probed here instead
// (--health_port); nothing else is reachable on it.

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace clerkship::tls {

class PlaintextHealthListener {
 public:
  // `main` must outlive the listener.
  PlaintextHealthListener(grpc::Server* main, std::string listen_address);
  ~PlaintextHealthListener();

  absl::Status Start();
  int port() const { return port_; }
  void Shutdown();

  class Forwarder;

 private:
  std::string listen_address_;
  std::unique_ptr<Forwarder> forwarder_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace clerkship::tls
