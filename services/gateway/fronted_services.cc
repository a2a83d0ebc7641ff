#include "services/gateway/fronted_services.h"

#include <google/protobuf/descriptor.h>

#include "clerkship/applicant/v1/applicant.pb.h"
#include "clerkship/catalog/v1/catalog.pb.h"
#include "clerkship/matching/v1/matching.pb.h"
#include "clerkship/notification/v1/notification.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/error_info.pb.h"

namespace clerkship::gateway {
namespace {

struct ProtoFile {
  // Taking a message's descriptor references the generated .pb.cc, so the static-library link
  // keeps it and its file registers in DescriptorPool::generated_pool().
  const google::protobuf::FileDescriptor* file;
  const char* backend;
};

std::vector<ProtoFile> ProtoFiles() {
  // The error details are printed as JSON from google.protobuf.Any: their types must be
  // linked in too.
  (void)google::rpc::BadRequest::descriptor();
  (void)google::rpc::ErrorInfo::descriptor();
  return {
      {catalog::v1::Site::descriptor()->file(), "catalog"},
      {applicant::v1::Applicant::descriptor()->file(), "applicant"},
      {matching::v1::Round::descriptor()->file(), "matching"},
      {notification::v1::Notification::descriptor()->file(), "notification"},
  };
}

}  // namespace

const std::vector<BackendDescriptor>& KnownBackends() {
  static const auto* backends = new std::vector<BackendDescriptor>{
      {"catalog", "127.0.0.1:50051"},
      {"applicant", "127.0.0.1:50052"},
      {"matching", "127.0.0.1:50053"},
      {"notification", "127.0.0.1:50054"},
  };
  return *backends;
}

std::vector<FrontedService> FrontedServices(const std::set<std::string>& anonymous_read_services) {
  std::vector<FrontedService> out;
  for (const ProtoFile& proto : ProtoFiles()) {
    for (int i = 0; i < proto.file->service_count(); ++i) {
      const google::protobuf::ServiceDescriptor* service = proto.file->service(i);
      FrontedService fronted;
      fronted.service = service;
      fronted.backend = proto.backend;
      fronted.anonymous_reads = anonymous_read_services.count(service->full_name()) > 0;
      out.push_back(fronted);
    }
  }
  return out;
}

}  // namespace clerkship::gateway
