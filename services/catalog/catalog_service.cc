#include "services/catalog/catalog_service.h"

#include "absl/strings/str_cat.h"
#include "common/auth/identity.h"
#include "common/server/reactor.h"
#include "common/status/validation.h"
#include "common/util/ids.h"
#include "common/util/page_token.h"
#include "services/catalog/catalog_validation.h"

namespace clerkship::catalog {
namespace {

// The listing of sites has no filters; its fingerprint only versions the token format.
constexpr char kSiteListing[] = "sites";

}  // namespace

grpc::ServerUnaryReactor* CatalogServiceImpl::CreateSite(grpc::CallbackServerContext* context,
                                                         const v1::CreateSiteRequest* request,
                                                         v1::Site* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok()) return FinishNow(context, s);
  if (!who.is_privileged()) return FinishNow(context, auth::PermissionDenied("only admins create sites"));
  if (absl::Status s = ValidateCreateSite(*request); !s.ok()) return FinishNow(context, s);

  v1::Site site = request->site();
  std::string id = request->site_id().empty() ? NewResourceId() : request->site_id();
  site.set_name(absl::StrCat("sites/", id));
  *site.mutable_create_time() = ToProtoTime(clock_->Now());
  *site.mutable_update_time() = site.create_time();
  site.clear_etag();
  site.set_etag(EtagOf(site.SerializeAsString()));

  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->CreateSite(site, request->request_id(), Respond(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* CatalogServiceImpl::GetSite(grpc::CallbackServerContext* context,
                                                      const v1::GetSiteRequest* request,
                                                      v1::Site* response) {
  Validator v;
  if (!v.RequireName("name", request->name(), "sites")) return FinishNow(context, v.Finish());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->GetSite(ResourceId(request->name(), "sites"), Respond(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* CatalogServiceImpl::ListSites(grpc::CallbackServerContext* context,
                                                        const v1::ListSitesRequest* request,
                                                        v1::ListSitesResponse* response) {
  absl::StatusOr<int> page_size = PageSize(request->page_size());
  if (!page_size.ok()) return FinishNow(context, page_size.status());
  std::string after;
  if (!request->page_token().empty()) {
    absl::StatusOr<PageCursor> cursor =
        DecodePageToken(request->page_token(), Fingerprint(kSiteListing));
    if (!cursor.ok()) return FinishNow(context, cursor.status());
    if (!IsValidResourceId(cursor->position)) {
      return FinishNow(context, InvalidFieldError("page_token", "is not a valid page token"));
    }
    after = cursor->position;
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  int limit = *page_size;
  // Ask for one more than the page to know whether another page follows.
  store_->ListSites(after, limit + 1,
                    [reactor, response, limit](absl::StatusOr<std::vector<v1::Site>> sites) {
                      if (!sites.ok()) {
                        reactor->Finish(ToGrpcStatus(sites.status()));
                        return;
                      }
                      bool more = static_cast<int>(sites->size()) > limit;
                      if (more) sites->resize(limit);
                      for (v1::Site& s : *sites) *response->add_sites() = std::move(s);
                      if (more) {
                        response->set_next_page_token(EncodePageToken(
                            {Fingerprint(kSiteListing),
                             ResourceId(response->sites().rbegin()->name(), "sites")}));
                      }
                      reactor->Finish(grpc::Status::OK);
                    });
  return reactor;
}

}  // namespace clerkship::catalog
