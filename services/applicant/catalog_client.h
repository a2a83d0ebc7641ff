#pragma once

// What the applicant service needs from the catalog, over gRPC: rotations, sessions and sites
// to check applications against, and the seat inventory that offers hold, acceptances confirm
// and the rest release. Behind an interface so the domain code does not depend on gRPC.
// Every method is asynchronous; `done` runs once, on a gRPC thread, and must not block.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "clerkship/catalog/v1/seats.grpc.pb.h"
#include "services/applicant/applicant_store.h"

namespace clerkship::applicant {

class CatalogClient {
 public:
  virtual ~CatalogClient() = default;

  virtual void GetRotation(const std::string& name, Done<catalog::v1::Rotation> done) = 0;
  virtual void GetSession(const std::string& name, Done<catalog::v1::Session> done) = 0;
  virtual void GetSite(const std::string& name, Done<catalog::v1::Site> done) = 0;
  virtual void HoldSeat(const std::string& session, const std::string& holder,
                        absl::Time expire_time, Done<catalog::v1::SeatHold> done) = 0;
  virtual void ConfirmSeat(const std::string& session, const std::string& holder,
                           Done<catalog::v1::SeatHold> done) = 0;
  virtual void ReleaseSeat(const std::string& session, const std::string& holder,
                           const std::string& reason,
                           Done<catalog::v1::ReleaseSeatResponse> done) = 0;
};

// Calls the catalog as the backend service `principal` ("services/applicant"), each call
// with its own deadline. Transport failures and timeouts become UNAVAILABLE; the catalog's
// own errors keep their code and details.
class GrpcCatalogClient : public CatalogClient {
 public:
  GrpcCatalogClient(std::shared_ptr<grpc::Channel> channel, std::string principal,
                    absl::Duration timeout = absl::Seconds(5));

  void GetRotation(const std::string& name, Done<catalog::v1::Rotation> done) override;
  void GetSession(const std::string& name, Done<catalog::v1::Session> done) override;
  void GetSite(const std::string& name, Done<catalog::v1::Site> done) override;
  void HoldSeat(const std::string& session, const std::string& holder, absl::Time expire_time,
                Done<catalog::v1::SeatHold> done) override;
  void ConfirmSeat(const std::string& session, const std::string& holder,
                   Done<catalog::v1::SeatHold> done) override;
  void ReleaseSeat(const std::string& session, const std::string& holder, const std::string& reason,
                   Done<catalog::v1::ReleaseSeatResponse> done) override;

 private:
  template <typename Request, typename Response, typename Invoke>
  void Call(const char* method, Request request, Invoke invoke, Done<Response> done);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<catalog::v1::CatalogService::Stub> catalog_;
  std::unique_ptr<catalog::v1::SeatInventoryService::Stub> seats_;
  std::string principal_;
  absl::Duration timeout_;

  // Sites by name, as read from the catalog (sites are immutable).
  static constexpr size_t kMaxCachedSites = 100000;
  absl::Mutex sites_mu_;
  absl::flat_hash_map<std::string, catalog::v1::Site> sites_ ABSL_GUARDED_BY(sites_mu_);
};

}  // namespace clerkship::applicant
