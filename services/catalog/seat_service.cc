#include "services/catalog/seat_service.h"

#include "common/auth/identity.h"
#include "common/events/events.h"
#include "common/server/reactor.h"
#include "common/util/ids.h"
#include "services/catalog/catalog_validation.h"

namespace clerkship::catalog {
namespace {

// Only backend services and admins touch seats; checked before anything else is looked at.
absl::Status RequireSeatCaller(const auth::Identity& who) {
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok()) return s;
  if (!who.is_privileged()) {
    return auth::PermissionDenied("only services and admins may manage seats");
  }
  return absl::OkStatus();
}

SeatKey KeyOf(const std::string& session_name) {
  SeatKey key;
  ParseSessionName(session_name, &key.rotation_id, &key.session_id);
  return key;
}

// A broken state rule carries a PreconditionFailure next to its ErrorInfo reason.
template <typename T>
std::function<void(absl::StatusOr<T>)> RespondExplained(grpc::ServerUnaryReactor* reactor,
                                                        T* response, std::string subject) {
  return [reactor, response, subject = std::move(subject)](absl::StatusOr<T> result) {
    if (result.ok()) {
      *response = std::move(*result);
      reactor->Finish(grpc::Status::OK);
      return;
    }
    absl::Status s = result.status();
    if (s.code() == absl::StatusCode::kFailedPrecondition) {
      std::string reason = ErrorReasonOf(s);
      s = PreconditionFailedError(s.message(), {{reason, subject, std::string(s.message())}},
                                  reason, "clerkship.catalog");
    }
    reactor->Finish(ToGrpcStatus(s));
  };
}

}  // namespace

grpc::ServerUnaryReactor* SeatInventoryServiceImpl::HoldSeat(grpc::CallbackServerContext* context,
                                                             const v1::HoldSeatRequest* request,
                                                             v1::SeatHold* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = RequireSeatCaller(who); !s.ok()) return FinishNow(context, s);
  absl::Time now = clock_->Now();
  if (absl::Status s = ValidateHoldSeat(*request, now); !s.ok()) return FinishNow(context, s);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->HoldSeat(KeyOf(request->session()), request->holder(),
                   FromProtoTime(request->expire_time()), {events::NewUuid(), now, who.principal},
                   now, RespondExplained(reactor, response, request->session()));
  return reactor;
}

grpc::ServerUnaryReactor* SeatInventoryServiceImpl::ConfirmSeat(
    grpc::CallbackServerContext* context, const v1::ConfirmSeatRequest* request,
    v1::SeatHold* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = RequireSeatCaller(who); !s.ok()) return FinishNow(context, s);
  if (absl::Status s = ValidateConfirmSeat(*request); !s.ok()) return FinishNow(context, s);
  absl::Time now = clock_->Now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->ConfirmSeat(KeyOf(request->session()), request->holder(),
                      {events::NewUuid(), now, who.principal}, now,
                      RespondExplained(reactor, response, request->holder()));
  return reactor;
}

grpc::ServerUnaryReactor* SeatInventoryServiceImpl::ReleaseSeat(
    grpc::CallbackServerContext* context, const v1::ReleaseSeatRequest* request,
    v1::ReleaseSeatResponse* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = RequireSeatCaller(who); !s.ok()) return FinishNow(context, s);
  if (absl::Status s = ValidateReleaseSeat(*request); !s.ok()) return FinishNow(context, s);
  absl::Time now = clock_->Now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->ReleaseSeat(KeyOf(request->session()), request->holder(), request->reason(),
                      {events::NewUuid(), now, who.principal}, now,
                      Respond(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* SeatInventoryServiceImpl::GetSeatInventory(
    grpc::CallbackServerContext* context, const v1::GetSeatInventoryRequest* request,
    v1::SeatInventory* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = RequireSeatCaller(who); !s.ok()) return FinishNow(context, s);
  if (absl::Status s = ValidateGetSeatInventory(*request); !s.ok()) return FinishNow(context, s);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->GetSeatInventory(KeyOf(request->session()), clock_->Now(), Respond(reactor, response));
  return reactor;
}

}  // namespace clerkship::catalog
