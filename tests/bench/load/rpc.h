#pragma once

// The load tool's gRPC client core: M channels (each its own HTTP/2 connection) and a few
// completion-queue threads. Calls are asynchronous (no thread per request): a call is
// started from any thread, its completion runs a callback on the completion-queue thread
// of its channel, which usually starts the next call.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "tests/bench/load/clock.h"

namespace clerkship::bench {

// Who a call is made as, sent as x-clerkship-role / x-clerkship-principal metadata (see
// common/auth/identity.h). An empty role sends no identity (an anonymous caller).
struct Caller {
  std::string role;
  std::string principal;

  static Caller Admin() { return {"admin", "admins/bench"}; }
  static Caller Service() { return {"service", "services/bench"}; }
  static Caller Applicant(std::string name) { return {"applicant", std::move(name)}; }
  static Caller Anonymous() { return {}; }
};

// Something a completion-queue thread finishes.
class CqTag {
 public:
  virtual ~CqTag() = default;
  virtual void Complete(bool ok) = 0;
};

struct ClientOptions {
  int channels = 2;        // HTTP/2 connections per target
  int cq_threads = 2;      // completion-queue threads (shared by all targets)
  absl::Duration deadline = absl::Seconds(10);
};

// One target (host:port) with its channels.
class Target {
 public:
  Target(std::string address, int channels);
  const std::string& address() const { return address_; }
  int channels() const { return static_cast<int>(channels_.size()); }
  const std::shared_ptr<grpc::Channel>& channel(int i) const {
    return channels_[i % channels_.size()];
  }

 private:
  std::string address_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
};

class RpcClient {
 public:
  explicit RpcClient(ClientOptions options);
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  const ClientOptions& options() const { return options_; }
  // The completion queue that slot `slot` uses.
  grpc::CompletionQueue* cq(int slot) const {
    return cqs_[static_cast<size_t>(slot) % cqs_.size()].get();
  }
  // Runs `fn` on a completion-queue thread soon (used to avoid deep recursion when an
  // operation finishes without a call, and for timed pauses).
  void Defer(int slot, absl::Duration delay, std::function<void()> fn);

 private:
  ClientOptions options_;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> cqs_;
  std::vector<std::thread> threads_;
};

// One unary call in flight. Resp is the response message type.
template <typename Resp>
class UnaryCall : public CqTag {
 public:
  using Done = std::function<void(const grpc::Status&, Resp*)>;
  grpc::ClientContext context;
  Resp response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> reader;
  Done done;

  void Complete(bool) override {
    done(status, &response);
    delete this;
  }
};

void ApplyCaller(grpc::ClientContext* context, const Caller& caller);

// Starts stub->PrepareAsync<Method>(request) on `cq`; `done` runs on a completion-queue
// thread with the status and the response (valid only during the callback).
template <typename Stub, typename Req, typename Resp>
void StartUnary(Stub* stub,
                std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> (Stub::*prepare)(
                    grpc::ClientContext*, const Req&, grpc::CompletionQueue*),
                grpc::CompletionQueue* cq, const Req& request, const Caller& caller,
                absl::Duration deadline,
                std::function<void(const grpc::Status&, Resp*)> done) {
  auto* call = new UnaryCall<Resp>();
  ApplyCaller(&call->context, caller);
  call->context.set_deadline(std::chrono::system_clock::now() +
                             absl::ToChronoNanoseconds(deadline));
  call->done = std::move(done);
  call->reader = (stub->*prepare)(&call->context, request, cq);
  call->reader->StartCall();
  call->reader->Finish(&call->response, &call->status, call);
}

// The gRPC status code's canonical name ("OK", "UNAVAILABLE", ...).
const char* CodeName(int code);

}  // namespace clerkship::bench
