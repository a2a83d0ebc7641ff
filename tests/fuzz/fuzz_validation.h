#pragma once

// What the validation fuzzers check of every request that parses: the service's validation
// either accepts it or refuses it as INVALID_ARGUMENT naming at least one field.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/status/status.h"
#include "common/status/status.h"

namespace clerkship::fuzz {

inline void ExpectAcceptedOrFieldNamed(const absl::Status& status) {
  if (status.ok()) return;
  if (status.code() != absl::StatusCode::kInvalidArgument || FieldViolationsOf(status).empty()) {
    std::abort();  // a client mistake must name the field
  }
}

// Parses the input as a `Request` and, if it parses, checks what `validate` says of it.
template <typename Request, typename Validate>
void TryRequest(const uint8_t* data, size_t size, Validate validate) {
  Request request;
  if (request.ParseFromArray(data, static_cast<int>(size))) {
    ExpectAcceptedOrFieldNamed(validate(request));
  }
}

}  // namespace clerkship::fuzz
