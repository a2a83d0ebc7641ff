#include "tests/bench/load/rpc.h"

#include "common/auth/identity.h"

namespace clerkship::bench {
namespace {

class DeferredTag : public CqTag {
 public:
  explicit DeferredTag(std::function<void()> fn) : fn_(std::move(fn)) {}
  grpc::Alarm alarm;
  void Complete(bool) override {
    fn_();
    delete this;
  }

 private:
  std::function<void()> fn_;
};

}  // namespace

Target::Target(std::string address, int channels) : address_(std::move(address)) {
  if (channels < 1) channels = 1;
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    // Without these, channels with equal arguments share one subchannel, hence one TCP
    // connection, and "M channels" would quietly be one.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("clerkship.bench.channel_index", i);
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    channels_.push_back(
        grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args));
  }
}

RpcClient::RpcClient(ClientOptions options) : options_(options) {
  int n = options_.cq_threads < 1 ? 1 : options_.cq_threads;
  for (int i = 0; i < n; ++i) cqs_.push_back(std::make_unique<grpc::CompletionQueue>());
  for (int i = 0; i < n; ++i) {
    grpc::CompletionQueue* cq = cqs_[i].get();
    threads_.emplace_back([cq] {
      void* tag;
      bool ok;
      while (cq->Next(&tag, &ok)) static_cast<CqTag*>(tag)->Complete(ok);
    });
  }
}

RpcClient::~RpcClient() {
  for (auto& cq : cqs_) cq->Shutdown();
  for (auto& t : threads_) t.join();
}

void RpcClient::Defer(int slot, absl::Duration delay, std::function<void()> fn) {
  auto* tag = new DeferredTag(std::move(fn));
  tag->alarm.Set(cq(slot),
                 std::chrono::system_clock::now() + absl::ToChronoNanoseconds(delay), tag);
}

void ApplyCaller(grpc::ClientContext* context, const Caller& caller) {
  if (caller.role.empty()) return;
  context->AddMetadata(auth::kRoleHeader, caller.role);
  context->AddMetadata(auth::kPrincipalHeader, caller.principal);
}

const char* CodeName(int code) {
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",         "UNKNOWN",            "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND",  "ALREADY_EXISTS",     "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",       "UNAVAILABLE",        "DATA_LOSS",
      "UNAUTHENTICATED"};
  return (code >= 0 && code <= 16) ? kNames[code] : "UNKNOWN";
}

}  // namespace clerkship::bench
