#pragma once

// Validation of catalog input: pure functions, one violation per bad field.

#include "absl/status/status.h"
#include "clerkship/catalog/v1/catalog.pb.h"

namespace clerkship::catalog {

absl::Status ValidateCreateSite(const v1::CreateSiteRequest& request);

}  // namespace clerkship::catalog
