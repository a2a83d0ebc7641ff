#pragma once

// Small helpers shared by the catalog's Redis stores: reply status and decoding.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/redis/redis_client.h"
#include "services/catalog/catalog_rules.h"

namespace clerkship::catalog {

inline absl::Status ReplyStatus(const absl::StatusOr<redis::Reply>& reply) {
  return redis::ScriptStatus(reply, kDomain);
}

inline absl::Status CorruptRecord() { return absl::DataLossError("stored record is unreadable"); }

template <typename T>
absl::StatusOr<T> ParseProto(const redis::Reply& reply) {
  T message;
  if (reply.type != redis::Reply::Type::kString || !message.ParseFromString(reply.str)) {
    return CorruptRecord();
  }
  return message;
}

inline int64_t IntegerOr(const redis::Reply& reply, int64_t fallback) {
  absl::StatusOr<int64_t> v = reply.AsInteger();
  return v.ok() ? *v : fallback;
}

inline std::string Millis(absl::Time t) { return std::to_string(absl::ToUnixMillis(t)); }

}  // namespace clerkship::catalog
