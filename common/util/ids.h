#pragma once

#include <string>

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace clerkship {

// A new server-generated resource id: 12 characters of [a-z0-9] (AIP-122 compatible).
std::string NewResourceId();

// A request_id for idempotent creation: 1-64 characters of [A-Za-z0-9_-].
bool IsValidRequestId(const std::string& id);

google::protobuf::Timestamp ToProtoTime(absl::Time t);
absl::Time FromProtoTime(const google::protobuf::Timestamp& t);

}  // namespace clerkship
