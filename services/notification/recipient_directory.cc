#include "services/notification/recipient_directory.h"

#include <optional>

#include "absl/synchronization/notification.h"
#include "common/auth/identity.h"
#include "common/status/status.h"

namespace clerkship::notification {

void SetServiceIdentity(grpc::ClientContext* context) {
  context->AddMetadata(auth::kRoleHeader, "service");
  context->AddMetadata(auth::kPrincipalHeader, "services/notification");
}

absl::StatusOr<RecipientProfile> RecipientDirectory::LookupSync(const std::string& name) {
  absl::Notification done;
  absl::StatusOr<RecipientProfile> result;
  Lookup(name, [&](absl::StatusOr<RecipientProfile> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

void NoRecipientDirectory::Lookup(const std::string&, Done done) {
  done(absl::UnimplementedError("no applicant service configured"));
}

GrpcRecipientDirectory::GrpcRecipientDirectory(std::shared_ptr<grpc::Channel> channel,
                                               absl::Duration timeout, absl::Duration cache_ttl,
                                               size_t cache_capacity)
    : stub_(clerkship::applicant::v1::ApplicantService::NewStub(std::move(channel))),
      timeout_(timeout),
      cache_ttl_(cache_ttl),
      cache_capacity_(cache_capacity) {}

void GrpcRecipientDirectory::Lookup(const std::string& applicant_name, Done done) {
  std::optional<RecipientProfile> cached;
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(applicant_name);
    if (it != cache_.end() && it->second.expires > absl::Now()) cached = it->second.profile;
  }
  if (cached) {
    done(std::move(*cached));
    return;
  }
  if (absl::ToUnixMillis(absl::Now()) < unavailable_until_ms_.load()) {
    done(absl::UnavailableError("the applicant service failed recently"));
    return;
  }
  struct Call {
    grpc::ClientContext context;
    clerkship::applicant::v1::GetApplicantRequest request;
    clerkship::applicant::v1::Applicant response;
  };
  auto call = std::make_shared<Call>();
  SetServiceIdentity(&call->context);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  call->request.set_name(applicant_name);
  stub_->async()->GetApplicant(
      &call->context, &call->request, &call->response,
      [this, call, applicant_name, done = std::move(done)](grpc::Status status) {
        if (!status.ok()) {
          if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
              status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
            unavailable_until_ms_ = absl::ToUnixMillis(absl::Now() + absl::Seconds(5));
          }
          done(FromGrpcStatus(status));
          return;
        }
        RecipientProfile profile{call->response.given_name(), call->response.email(),
                                 call->response.time_zone()};
        Remember(applicant_name, profile);
        done(std::move(profile));
      });
}

void GrpcRecipientDirectory::Remember(const std::string& name, const RecipientProfile& profile) {
  if (cache_ttl_ <= absl::ZeroDuration() || cache_capacity_ == 0) return;
  absl::MutexLock lock(&mu_);
  auto it = cache_.find(name);
  if (it != cache_.end()) {
    order_.erase(it->second.order);
    cache_.erase(it);
  }
  while (cache_.size() >= cache_capacity_ && !order_.empty()) {
    cache_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(name);
  cache_[name] = Cached{profile, absl::Now() + cache_ttl_, std::prev(order_.end())};
}

absl::StatusOr<std::vector<RoundOutcome>> NoRoundResults::ListOutcomes(const std::string&) {
  return absl::UnimplementedError("no matching service configured");
}

GrpcRoundResults::GrpcRoundResults(std::shared_ptr<grpc::Channel> channel,
                                   absl::Duration timeout)
    : stub_(clerkship::matching::v1::MatchingService::NewStub(std::move(channel))),
      timeout_(timeout) {}

absl::StatusOr<std::vector<RoundOutcome>> GrpcRoundResults::ListOutcomes(
    const std::string& round) {
  std::vector<RoundOutcome> out;
  std::string token;
  do {
    grpc::ClientContext context;
    SetServiceIdentity(&context);
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    clerkship::matching::v1::ListRoundResultsRequest request;
    request.set_round(round);
    request.set_page_size(1000);
    request.set_page_token(token);
    clerkship::matching::v1::ListRoundResultsResponse response;
    grpc::Status status = stub_->ListRoundResults(&context, request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    for (const auto& r : response.results()) out.push_back({r.applicant(), !r.session().empty()});
    token = response.next_page_token();
  } while (!token.empty());
  return out;
}

}  // namespace clerkship::notification
