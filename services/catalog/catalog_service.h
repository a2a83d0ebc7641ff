#pragma once

// gRPC adapter of the catalog: checks who is calling, validates, and hands the work to the
// store. Handlers never block: they return a reactor that the store's callback finishes.

#include <memory>

#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "common/util/clock.h"
#include "services/catalog/catalog_store.h"

namespace clerkship::catalog {

// GetRotation and SearchRotations, the hot reads, are answered in wire form (raw methods):
// the request is parsed here and the response assembled from rotation records the index
// serialized once (RotationWire), instead of copying and serializing every rotation per call.
using CatalogServiceBase = v1::CatalogService::WithRawCallbackMethod_GetRotation<
    v1::CatalogService::WithRawCallbackMethod_SearchRotations<
        v1::CatalogService::CallbackService>>;

class CatalogServiceImpl final : public CatalogServiceBase {
 public:
  CatalogServiceImpl(CatalogStore* store, Clock* clock) : store_(store), clock_(clock) {}

  grpc::ServerUnaryReactor* CreateSite(grpc::CallbackServerContext* context,
                                       const v1::CreateSiteRequest* request,
                                       v1::Site* response) override;
  grpc::ServerUnaryReactor* GetSite(grpc::CallbackServerContext* context,
                                    const v1::GetSiteRequest* request,
                                    v1::Site* response) override;
  grpc::ServerUnaryReactor* ListSites(grpc::CallbackServerContext* context,
                                      const v1::ListSitesRequest* request,
                                      v1::ListSitesResponse* response) override;

  grpc::ServerUnaryReactor* CreateRotation(grpc::CallbackServerContext* context,
                                           const v1::CreateRotationRequest* request,
                                           v1::Rotation* response) override;
  // Request: v1::GetRotationRequest; response: v1::Rotation.
  grpc::ServerUnaryReactor* GetRotation(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UpdateRotation(grpc::CallbackServerContext* context,
                                           const v1::UpdateRotationRequest* request,
                                           v1::Rotation* response) override;
  grpc::ServerUnaryReactor* PublishRotation(grpc::CallbackServerContext* context,
                                            const v1::PublishRotationRequest* request,
                                            v1::Rotation* response) override;
  grpc::ServerUnaryReactor* ArchiveRotation(grpc::CallbackServerContext* context,
                                            const v1::ArchiveRotationRequest* request,
                                            v1::Rotation* response) override;
  // Request: v1::SearchRotationsRequest; response: v1::SearchRotationsResponse.
  grpc::ServerUnaryReactor* SearchRotations(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;

  grpc::ServerUnaryReactor* CreateSession(grpc::CallbackServerContext* context,
                                          const v1::CreateSessionRequest* request,
                                          v1::Session* response) override;
  grpc::ServerUnaryReactor* UpdateSession(grpc::CallbackServerContext* context,
                                          const v1::UpdateSessionRequest* request,
                                          v1::Session* response) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* context,
                                         const v1::ListSessionsRequest* request,
                                         v1::ListSessionsResponse* response) override;
  grpc::ServerUnaryReactor* GetSession(grpc::CallbackServerContext* context,
                                       const v1::GetSessionRequest* request,
                                       v1::Session* response) override;

 private:
  // Publish and Archive differ only in the target state.
  grpc::ServerUnaryReactor* Transition(grpc::CallbackServerContext* context,
                                       const std::string& name, const std::string& etag,
                                       RotationTransition transition, v1::Rotation* response);

  CatalogStore* store_;
  Clock* clock_;
};

}  // namespace clerkship::catalog
