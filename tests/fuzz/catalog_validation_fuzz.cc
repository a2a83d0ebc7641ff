// libFuzzer entry point for the catalog's request validation: the input is parsed as a
// CreateRotationRequest (protobuf wire format, as a gRPC client would send it) and
// validated; then as a CreateSessionRequest, an UpdateRotationRequest and a CreateSiteRequest.
// A rejection must be INVALID_ARGUMENT with at least one field violation. Nothing may crash,
// hang or leak.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <google/protobuf/stubs/logging.h>

#include "clerkship/catalog/v1/catalog.pb.h"
#include "common/status/status.h"
#include "services/catalog/catalog_rules.h"
#include "services/catalog/catalog_validation.h"
#include "tests/fuzz/fuzz_validation.h"

namespace {

namespace v1 = clerkship::catalog::v1;

using clerkship::fuzz::TryRequest;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Invalid UTF-8 in a string field fails the parse, which protobuf also logs: not news here.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  // As the service does: normalize (trim, canonical case), then validate.
  TryRequest<v1::CreateRotationRequest>(data, size, [](v1::CreateRotationRequest r) {
    if (r.has_rotation()) clerkship::catalog::NormalizeRotationInput(r.mutable_rotation());
    return clerkship::catalog::ValidateCreateRotation(r);
  });
  TryRequest<v1::UpdateRotationRequest>(data, size, [](const auto& r) {
    return clerkship::catalog::ValidateUpdateRotationRequest(r);
  });
  TryRequest<v1::CreateSessionRequest>(data, size, [](v1::CreateSessionRequest r) {
    if (r.has_session()) clerkship::catalog::NormalizeSessionInput(r.mutable_session());
    return clerkship::catalog::ValidateCreateSession(r);
  });
  TryRequest<v1::CreateSiteRequest>(data, size, [](const auto& r) {
    return clerkship::catalog::ValidateCreateSite(r);
  });
  return 0;
}
