#pragma once

// gRPC adapter of the seat inventory (internal: the applicant service and admin tools call
// it; the gateway does not expose it). Handlers never block.

#include "clerkship/catalog/v1/seats.grpc.pb.h"
#include "common/util/clock.h"
#include "services/catalog/seat_store.h"

namespace clerkship::catalog {

class SeatInventoryServiceImpl final : public v1::SeatInventoryService::CallbackService {
 public:
  SeatInventoryServiceImpl(SeatStore* store, Clock* clock) : store_(store), clock_(clock) {}

  grpc::ServerUnaryReactor* HoldSeat(grpc::CallbackServerContext* context,
                                     const v1::HoldSeatRequest* request,
                                     v1::SeatHold* response) override;
  grpc::ServerUnaryReactor* ConfirmSeat(grpc::CallbackServerContext* context,
                                        const v1::ConfirmSeatRequest* request,
                                        v1::SeatHold* response) override;
  grpc::ServerUnaryReactor* ReleaseSeat(grpc::CallbackServerContext* context,
                                        const v1::ReleaseSeatRequest* request,
                                        v1::ReleaseSeatResponse* response) override;
  grpc::ServerUnaryReactor* GetSeatInventory(grpc::CallbackServerContext* context,
                                             const v1::GetSeatInventoryRequest* request,
                                             v1::SeatInventory* response) override;

 private:
  SeatStore* store_;
  Clock* clock_;
};

}  // namespace clerkship::catalog
