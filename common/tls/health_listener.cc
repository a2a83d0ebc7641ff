#include "common/tls/health_listener.h"

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/ext/health_check_service_server_builder_option.h"

namespace clerkship::tls {

namespace health = grpc::health::v1;

class PlaintextHealthListener::Forwarder final : public health::Health::CallbackService {
 public:
  explicit Forwarder(grpc::Server* main)
      : stub_(health::Health::NewStub(main->InProcessChannel(grpc::ChannelArguments()))) {}

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const health::HealthCheckRequest* request,
                                  health::HealthCheckResponse* response) override {
    struct Call {
      grpc::ClientContext context;
      grpc::ServerUnaryReactor* reactor;
    };
    auto* call = new Call;
    // The reply may arrive (and free `call`) before Check returns: keep the reactor aside.
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    call->reactor = reactor;
    call->context.set_deadline(context->deadline());
    stub_->async()->Check(&call->context, request, response, [call](grpc::Status status) {
      call->reactor->Finish(status);
      delete call;
    });
    return reactor;
  }
  // Watch stays UNIMPLEMENTED: probes only Check.

 private:
  std::unique_ptr<health::Health::Stub> stub_;
};

PlaintextHealthListener::PlaintextHealthListener(grpc::Server* main, std::string listen_address)
    : listen_address_(std::move(listen_address)), forwarder_(std::make_unique<Forwarder>(main)) {}

PlaintextHealthListener::~PlaintextHealthListener() { Shutdown(); }

absl::Status PlaintextHealthListener::Start() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen_address_, grpc::InsecureServerCredentials(), &port_);
  // This server's Health service is the forwarder; the process-wide default one is turned
  // off here (a null health-check service), or it would be registered a second time.
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  builder.RegisterService(forwarder_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen_address_, " for health checks (port in use?)"));
  }
  return absl::OkStatus();
}

void PlaintextHealthListener::Shutdown() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
    server_.reset();
  }
}

}  // namespace clerkship::tls
