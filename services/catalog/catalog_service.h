#pragma once

// gRPC adapter of the catalog: checks who is calling, validates, and hands the work to the
// store. Handlers never block: they return a reactor that the store's callback finishes.

#include <memory>

#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "common/util/clock.h"
#include "services/catalog/catalog_store.h"

namespace clerkship::catalog {

class CatalogServiceImpl final : public v1::CatalogService::CallbackService {
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

 private:
  CatalogStore* store_;
  Clock* clock_;
};

}  // namespace clerkship::catalog
