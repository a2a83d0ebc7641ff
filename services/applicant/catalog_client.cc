#include "services/applicant/catalog_client.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/auth/identity.h"
#include "common/logging/log.h"
#include "common/status/status.h"
#include "common/util/ids.h"

namespace clerkship::applicant {

GrpcCatalogClient::GrpcCatalogClient(std::shared_ptr<grpc::Channel> channel, std::string principal,
                                     absl::Duration timeout)
    : channel_(std::move(channel)),
      catalog_(catalog::v1::CatalogService::NewStub(channel_)),
      seats_(catalog::v1::SeatInventoryService::NewStub(channel_)),
      principal_(std::move(principal)),
      timeout_(timeout) {}

template <typename Request, typename Response, typename Invoke>
void GrpcCatalogClient::Call(const char* method, Request request, Invoke invoke,
                             Done<Response> done) {
  // One heap object per call keeps the context, request and response alive until gRPC
  // calls back; the callback owns and frees it.
  struct PendingCall {
    grpc::ClientContext context;
    Request request;
    Response response;
    Done<Response> done;
  };
  auto* call = new PendingCall;
  call->request = std::move(request);
  call->done = std::move(done);
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  call->context.AddMetadata(auth::kRoleHeader, "service");
  call->context.AddMetadata(auth::kPrincipalHeader, principal_);
  invoke(&call->context, &call->request, &call->response, [call, method](grpc::Status status) {
    std::unique_ptr<PendingCall> owned(call);
    if (status.ok()) return owned->done(std::move(owned->response));
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      log::Warning("catalog call failed",
                   {{"method", method}, {"code", absl::StrCat(status.error_code())}});
      return owned->done(ErrorWithInfo(absl::StatusCode::kUnavailable,
                                       "the catalog is unavailable, retry later",
                                       "CATALOG_UNAVAILABLE", "clerkship.applicant"));
    }
    owned->done(FromGrpcStatus(status));
  });
}

void GrpcCatalogClient::GetRotation(const std::string& name, Done<catalog::v1::Rotation> done) {
  catalog::v1::GetRotationRequest request;
  request.set_name(name);
  Call<catalog::v1::GetRotationRequest, catalog::v1::Rotation>(
      "GetRotation", std::move(request),
      [this](auto* c, auto* req, auto* resp, auto cb) {
        catalog_->async()->GetRotation(c, req, resp, std::move(cb));
      },
      std::move(done));
}

void GrpcCatalogClient::GetSession(const std::string& name, Done<catalog::v1::Session> done) {
  catalog::v1::GetSessionRequest request;
  request.set_name(name);
  Call<catalog::v1::GetSessionRequest, catalog::v1::Session>(
      "GetSession", std::move(request),
      [this](auto* c, auto* req, auto* resp, auto cb) {
        catalog_->async()->GetSession(c, req, resp, std::move(cb));
      },
      std::move(done));
}

void GrpcCatalogClient::GetSite(const std::string& name, Done<catalog::v1::Site> done) {
  // The catalog has no way to change a site once created, so a site read once is kept
  // (a bounded number of them) and later submissions to its rotations skip the call.
  std::optional<catalog::v1::Site> known;
  {
    absl::MutexLock lock(&sites_mu_);
    auto it = sites_.find(name);
    if (it != sites_.end()) known = it->second;
  }
  if (known) return done(std::move(*known));
  catalog::v1::GetSiteRequest request;
  request.set_name(name);
  Call<catalog::v1::GetSiteRequest, catalog::v1::Site>(
      "GetSite", std::move(request),
      [this](auto* c, auto* req, auto* resp, auto cb) {
        catalog_->async()->GetSite(c, req, resp, std::move(cb));
      },
      [this, name, done = std::move(done)](absl::StatusOr<catalog::v1::Site> site) {
        if (site.ok()) {
          absl::MutexLock lock(&sites_mu_);
          if (sites_.size() >= kMaxCachedSites) sites_.clear();
          sites_[name] = *site;
        }
        done(std::move(site));
      });
}

void GrpcCatalogClient::HoldSeat(const std::string& session, const std::string& holder,
                                 absl::Time expire_time, Done<catalog::v1::SeatHold> done) {
  catalog::v1::HoldSeatRequest request;
  request.set_session(session);
  request.set_holder(holder);
  *request.mutable_expire_time() = ToProtoTime(expire_time);
  Call<catalog::v1::HoldSeatRequest, catalog::v1::SeatHold>(
      "HoldSeat", std::move(request),
      [this](auto* c, auto* req, auto* resp, auto cb) {
        seats_->async()->HoldSeat(c, req, resp, std::move(cb));
      },
      std::move(done));
}

void GrpcCatalogClient::ConfirmSeat(const std::string& session, const std::string& holder,
                                    Done<catalog::v1::SeatHold> done) {
  catalog::v1::ConfirmSeatRequest request;
  request.set_session(session);
  request.set_holder(holder);
  Call<catalog::v1::ConfirmSeatRequest, catalog::v1::SeatHold>(
      "ConfirmSeat", std::move(request),
      [this](auto* c, auto* req, auto* resp, auto cb) {
        seats_->async()->ConfirmSeat(c, req, resp, std::move(cb));
      },
      std::move(done));
}

void GrpcCatalogClient::ReleaseSeat(const std::string& session, const std::string& holder,
                                    const std::string& reason,
                                    Done<catalog::v1::ReleaseSeatResponse> done) {
  catalog::v1::ReleaseSeatRequest request;
  request.set_session(session);
  request.set_holder(holder);
  request.set_reason(reason);
  Call<catalog::v1::ReleaseSeatRequest, catalog::v1::ReleaseSeatResponse>(
      "ReleaseSeat", std::move(request),
      [this](auto* c, auto* req, auto* resp, auto cb) {
        seats_->async()->ReleaseSeat(c, req, resp, std::move(cb));
      },
      std::move(done));
}

}  // namespace clerkship::applicant
