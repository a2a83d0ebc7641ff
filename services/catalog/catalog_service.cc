#include "services/catalog/catalog_service.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/auth/identity.h"
#include "common/events/events.h"
#include "common/server/reactor.h"
#include "common/status/status.h"
#include "common/status/validation.h"
#include "common/util/ids.h"
#include "common/util/page_token.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/slice.h"
#include "services/catalog/catalog_rules.h"
#include "services/catalog/catalog_validation.h"

namespace clerkship::catalog {
namespace {

using clerkship::events::v1::Event;

// The listing of sites has no filters; its fingerprint only versions the token format.
constexpr char kSiteListing[] = "sites";
// Attempts of a read-modify-write that keeps losing the race to concurrent writers.
constexpr int kMaxWriteAttempts = 32;

absl::Status StaleEtag(absl::string_view what) {
  return ErrorWithInfo(absl::StatusCode::kAborted,
                       absl::StrCat(what, " has changed since that etag was read; read it again"),
                       "ETAG_MISMATCH", kDomain);
}

bool IsWriteRace(const absl::Status& s) {
  return s.code() == absl::StatusCode::kAborted && ErrorReasonOf(s) == "ETAG_CHANGED";
}

absl::Status RotationNotFound(absl::string_view name) {
  return ErrorWithInfo(absl::StatusCode::kNotFound, absl::StrCat("rotation ", name, " not found"),
                       "ROTATION_NOT_FOUND", kDomain);
}

absl::Status SessionNotFound(absl::string_view name) {
  return ErrorWithInfo(absl::StatusCode::kNotFound, absl::StrCat("session ", name, " not found"),
                       "SESSION_NOT_FOUND", kDomain);
}

// A broken state rule carries a PreconditionFailure next to its ErrorInfo reason.
absl::Status Explained(absl::Status s, const std::string& subject) {
  if (s.code() != absl::StatusCode::kFailedPrecondition ||
      !PreconditionViolationsOf(s).empty()) {
    return s;
  }
  std::string reason = ErrorReasonOf(s);
  if (reason.empty()) reason = "PRECONDITION_FAILED";
  return PreconditionFailedError(s.message(), {{reason, subject, std::string(s.message())}},
                                 reason, kDomain);
}

// ---- Wire form (GetRotation, SearchRotations) ---------------------------------------------

template <typename Message>
bool ParseRequest(const grpc::ByteBuffer& bytes, Message* out) {
  grpc::ByteBuffer copy(bytes);  // shares the slices; Deserialize consumes its argument
  return grpc::SerializationTraits<Message>::Deserialize(&copy, out).ok();
}

template <typename Message>
absl::Status Unparsable(const Message& message) {
  return absl::InvalidArgumentError(
      absl::StrCat("the request is not a valid ", message.GetDescriptor()->full_name()));
}

constexpr int kVarint = 0;
constexpr int kLengthDelimited = 2;

void AppendVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

void AppendTag(int field, int wire_type, std::string* out) {
  AppendVarint((static_cast<uint64_t>(field) << 3) | wire_type, out);
}

void AppendRotation(const RotationWire& rotation, std::string* out) {
  out->append(rotation.record->bytes);
  out->append(rotation.computed);
}

// A response buffer that takes the string over instead of copying it.
grpc::ByteBuffer OwningBuffer(std::string bytes) {
  auto* owned = new std::string(std::move(bytes));
  grpc::Slice slice(
      owned->data(), owned->size(), [](void* p) { delete static_cast<std::string*>(p); }, owned);
  return grpc::ByteBuffer(&slice, 1);
}

absl::Status ArchivedError(const std::string& rotation_name) {
  return Explained(ErrorWithInfo(absl::StatusCode::kFailedPrecondition,
                                 absl::StrCat("rotation ", rotation_name, " is archived"),
                                 "ROTATION_ARCHIVED", kDomain),
                   rotation_name);
}

// Writers must be signed in and able to manage some site before anything is looked up.
absl::Status RequireManager(const auth::Identity& who) {
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok()) return s;
  if (!CanManageAnySite(who)) {
    return auth::PermissionDenied("only a site's coordinator or an admin may change the catalog");
  }
  return absl::OkStatus();
}

absl::Status RequireManagerOf(const auth::Identity& who, const std::string& site) {
  if (CanManageSite(who, site)) return absl::OkStatus();
  return auth::PermissionDenied(absl::StrCat("only the coordinator of ", site, " or an admin"));
}

// Fields computed at read time are never stored; the etag covers everything else.
void SealRotation(v1::Rotation* r) {
  r->clear_next_start_date();
  r->clear_seats_available();
  r->clear_etag();
  r->set_etag(EtagOf(r->SerializeAsString()));
}

void SealSession(v1::Session* s) {
  s->clear_seats_held();
  s->clear_seats_confirmed();
  s->clear_seats_available();
  s->clear_accepting_applications();
  s->clear_etag();
  s->set_etag(EtagOf(s->SerializeAsString()));
}

Event CatalogEvent(const std::string& type, const std::string& subject,
                   const auth::Identity& who, absl::Time now) {
  Event e = events::NewEvent("catalog", type, subject, who.principal);
  *e.mutable_time() = ToProtoTime(now);
  return e;
}

events::v1::RotationChange RotationChangeOf(const v1::Rotation& r) {
  events::v1::RotationChange change;
  change.set_rotation(r.name());
  change.set_site(r.site());
  change.set_title(r.title());
  change.set_specialty(r.specialty());
  change.set_experience_type(r.experience_type());
  change.set_state(v1::Rotation::State_Name(r.state()));
  return change;
}

events::v1::SessionChange SessionChangeOf(const v1::Session& s, const std::string& rotation,
                                          const std::string& site) {
  events::v1::SessionChange change;
  change.set_session(s.name());
  change.set_rotation(rotation);
  change.set_site(site);
  change.set_start_date(s.start_date());
  change.set_end_date(s.end_date());
  change.set_application_deadline(s.application_deadline());
  change.set_capacity(s.capacity());
  return change;
}

std::string RotationNameOfSession(const std::string& session_name) {
  return session_name.substr(0, session_name.find("/sessions/"));
}

// Finishes an RPC with a store result.
template <typename Stored, typename Response, typename Extract>
Done<Stored> FinishWith(grpc::ServerUnaryReactor* reactor, Response* response, std::string subject,
                   Extract extract) {
  return [reactor, response, subject = std::move(subject),
          extract = std::move(extract)](absl::StatusOr<Stored> result) {
    if (!result.ok()) {
      reactor->Finish(ToGrpcStatus(Explained(result.status(), subject)));
      return;
    }
    *response = extract(std::move(*result));
    reactor->Finish(grpc::Status::OK);
  };
}

Done<StoredRotation> ReplyRotation(grpc::ServerUnaryReactor* reactor, v1::Rotation* response,
                                   std::string subject) {
  return FinishWith<StoredRotation>(reactor, response, std::move(subject),
                               [](StoredRotation r) { return std::move(r.rotation); });
}

Done<StoredSession> ReplySession(grpc::ServerUnaryReactor* reactor, v1::Session* response,
                                 std::string subject) {
  return FinishWith<StoredSession>(reactor, response, std::move(subject),
                              [](StoredSession s) { return std::move(s.session); });
}

// Read-modify-write with optimistic concurrency: load the current version, decide what to
// write, and write only if the version is still current. Losing a race to another writer
// starts over, unless the caller pinned the version it read with an etag: then ABORTED.
template <typename Current>
class ReadModifyWrite : public std::enable_shared_from_this<ReadModifyWrite<Current>> {
 public:
  struct Step {
    bool unchanged = false;                    // nothing to write: the current version stands
    std::function<void(Done<Current>)> write;  // otherwise the conditional write
  };
  using Load = std::function<void(Done<Current>)>;
  using Decide = std::function<absl::StatusOr<Step>(const Current&)>;

  static void Run(Load load, Decide decide, bool pinned, std::string what, Done<Current> done) {
    std::shared_ptr<ReadModifyWrite> op(new ReadModifyWrite(
        std::move(load), std::move(decide), pinned, std::move(what), std::move(done)));
    op->Attempt();
  }

 private:
  ReadModifyWrite(Load load, Decide decide, bool pinned, std::string what, Done<Current> done)
      : load_(std::move(load)),
        decide_(std::move(decide)),
        pinned_(pinned),
        what_(std::move(what)),
        done_(std::move(done)) {}

  void Attempt() {
    auto self = this->shared_from_this();
    load_([self](absl::StatusOr<Current> current) {
      if (!current.ok()) return self->done_(current.status());
      absl::StatusOr<Step> step = self->decide_(*current);
      if (!step.ok()) return self->done_(step.status());
      if (step->unchanged) return self->done_(std::move(*current));
      step->write([self](absl::StatusOr<Current> written) {
        if (!written.ok() && IsWriteRace(written.status())) {
          if (!self->pinned_ && ++self->attempts_ < kMaxWriteAttempts) return self->Attempt();
          return self->done_(StaleEtag(self->what_));
        }
        self->done_(std::move(written));
      });
    });
  }

  Load load_;
  Decide decide_;
  bool pinned_;
  std::string what_;
  Done<Current> done_;
  int attempts_ = 0;
};

using RotationStep = ReadModifyWrite<StoredRotation>::Step;
using SessionStep = ReadModifyWrite<StoredSession>::Step;

}  // namespace

// ---- Sites -------------------------------------------------------------------------------

grpc::ServerUnaryReactor* CatalogServiceImpl::CreateSite(grpc::CallbackServerContext* context,
                                                         const v1::CreateSiteRequest* request,
                                                         v1::Site* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok()) return FinishNow(context, s);
  if (!who.is_privileged()) {
    return FinishNow(context, auth::PermissionDenied("only admins create sites"));
  }
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

// ---- Rotations ---------------------------------------------------------------------------

grpc::ServerUnaryReactor* CatalogServiceImpl::CreateRotation(
    grpc::CallbackServerContext* context, const v1::CreateRotationRequest* request,
    v1::Rotation* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = RequireManager(who); !s.ok()) return FinishNow(context, s);
  v1::CreateRotationRequest normalized = *request;
  if (normalized.has_rotation()) NormalizeRotationInput(normalized.mutable_rotation());
  if (absl::Status s = ValidateCreateRotation(normalized); !s.ok()) return FinishNow(context, s);
  if (absl::Status s = RequireManagerOf(who, normalized.rotation().site()); !s.ok()) {
    return FinishNow(context, s);
  }

  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::string id = request->rotation_id().empty() ? NewResourceId() : request->rotation_id();
  absl::Time now = clock_->Now();
  CatalogStore* store = store_;
  store_->GetSite(
      ResourceId(normalized.rotation().site(), "sites"),
      [store, reactor, response, now, id, rotation = normalized.rotation(),
       request_id = request->request_id()](absl::StatusOr<v1::Site> site) mutable {
        if (!site.ok()) {
          reactor->Finish(ToGrpcStatus(site.status()));
          return;
        }
        rotation.set_name(absl::StrCat("rotations/", id));
        rotation.set_site_display_name(site->display_name());
        rotation.set_city(site->city());
        rotation.set_us_state(site->us_state());
        rotation.set_state(v1::Rotation::DRAFT);
        *rotation.mutable_create_time() = ToProtoTime(now);
        *rotation.mutable_update_time() = rotation.create_time();
        rotation.clear_publish_time();
        SealRotation(&rotation);
        RotationWrite write{rotation, SearchTermsOf(rotation), site->time_zone()};
        store->CreateRotation(write, request_id, now,
                              ReplyRotation(reactor, response, rotation.name()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* CatalogServiceImpl::GetRotation(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request_bytes,
                                                          grpc::ByteBuffer* response) {
  v1::GetRotationRequest request;
  if (!ParseRequest(*request_bytes, &request)) return FinishNow(context, Unparsable(request));
  Validator v;
  if (!v.RequireName("name", request.name(), "rotations")) return FinishNow(context, v.Finish());
  auth::Identity who = auth::IdentityFrom(*context);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->GetRotationWire(
      ResourceId(request.name(), "rotations"), clock_->Now(),
      [who, reactor, response, name = request.name()](absl::StatusOr<RotationWire> r) {
        if (r.ok() && !CanSeeRotation(who, r->record->state, r->record->site)) {
          r = RotationNotFound(name);
        }
        if (!r.ok()) {
          reactor->Finish(ToGrpcStatus(r.status()));
          return;
        }
        std::string bytes;
        bytes.reserve(r->size());
        AppendRotation(*r, &bytes);
        *response = OwningBuffer(std::move(bytes));
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* CatalogServiceImpl::UpdateRotation(
    grpc::CallbackServerContext* context, const v1::UpdateRotationRequest* request,
    v1::Rotation* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = RequireManager(who); !s.ok()) return FinishNow(context, s);
  if (absl::Status s = ValidateUpdateRotationRequest(*request); !s.ok()) {
    return FinishNow(context, s);
  }
  {
    // Bad mask paths are reported before anything is read.
    v1::Rotation scratch;
    auto paths = ApplyRotationUpdate(request->rotation(), request->update_mask(), &scratch);
    if (!paths.ok()) return FinishNow(context, paths.status());
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const std::string& name = request->rotation().name();
  std::string id = ResourceId(name, "rotations");
  absl::Time now = clock_->Now();
  CatalogStore* store = store_;
  auto decide = [store, who, now, patch = request->rotation(),
                 mask = request->update_mask()](
                    const StoredRotation& current) -> absl::StatusOr<RotationStep> {
    const v1::Rotation& r = current.rotation;
    if (absl::Status s = RequireManagerOf(who, r.site()); !s.ok()) return s;
    if (r.state() == v1::Rotation::ARCHIVED) return ArchivedError(r.name());
    if (!patch.etag().empty() && patch.etag() != r.etag()) return StaleEtag(r.name());
    v1::Rotation next = r;
    absl::StatusOr<std::vector<std::string>> paths = ApplyRotationUpdate(patch, mask, &next);
    if (!paths.ok()) return paths.status();
    RotationStep step;
    if (paths->empty()) {
      step.unchanged = true;
      return step;
    }
    Validator v;
    ValidateRotationFields(next, &v);
    if (!v.ok()) return v.Finish();
    *next.mutable_update_time() = ToProtoTime(now);
    SealRotation(&next);
    // Only changes that applicants can see are announced.
    Event event;
    if (next.state() == v1::Rotation::PUBLISHED) {
      event = CatalogEvent("rotation.updated", next.name(), who, now);
      *event.mutable_rotation_updated() = RotationChangeOf(next);
      for (const std::string& p : *paths) event.mutable_rotation_updated()->add_changed_fields(p);
    }
    RotationWrite write{next, SearchTermsOf(next), current.time_zone};
    step.write = [store, write = std::move(write), event = std::move(event), now,
                  expected = r.etag()](Done<StoredRotation> done) {
      store->WriteRotation(RotationTransition::kUpdate, expected, write, event, now,
                           std::move(done));
    };
    return step;
  };
  ReadModifyWrite<StoredRotation>::Run(
      [store, id, now](Done<StoredRotation> done) { store->GetRotation(id, now, std::move(done)); },
      std::move(decide), !request->rotation().etag().empty(), name,
      ReplyRotation(reactor, response, name));
  return reactor;
}

grpc::ServerUnaryReactor* CatalogServiceImpl::PublishRotation(
    grpc::CallbackServerContext* context, const v1::PublishRotationRequest* request,
    v1::Rotation* response) {
  return Transition(context, request->name(), request->etag(), RotationTransition::kPublish,
                    response);
}

grpc::ServerUnaryReactor* CatalogServiceImpl::ArchiveRotation(
    grpc::CallbackServerContext* context, const v1::ArchiveRotationRequest* request,
    v1::Rotation* response) {
  return Transition(context, request->name(), request->etag(), RotationTransition::kArchive,
                    response);
}

grpc::ServerUnaryReactor* CatalogServiceImpl::Transition(grpc::CallbackServerContext* context,
                                                         const std::string& name,
                                                         const std::string& etag,
                                                         RotationTransition transition,
                                                         v1::Rotation* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = RequireManager(who); !s.ok()) return FinishNow(context, s);
  Validator v;
  if (!v.RequireName("name", name, "rotations")) return FinishNow(context, v.Finish());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::string id = ResourceId(name, "rotations");
  absl::Time now = clock_->Now();
  CatalogStore* store = store_;
  bool publish = transition == RotationTransition::kPublish;
  auto decide = [store, who, now, etag, transition,
                 publish](const StoredRotation& current) -> absl::StatusOr<RotationStep> {
    const v1::Rotation& r = current.rotation;
    if (absl::Status s = RequireManagerOf(who, r.site()); !s.ok()) return s;
    if (!etag.empty() && etag != r.etag()) return StaleEtag(r.name());
    v1::Rotation::State target = publish ? v1::Rotation::PUBLISHED : v1::Rotation::ARCHIVED;
    RotationStep step;
    if (r.state() == target) {  // publishing twice, archiving twice: nothing to do
      step.unchanged = true;
      return step;
    }
    if (r.state() == v1::Rotation::ARCHIVED) return ArchivedError(r.name());
    v1::Rotation next = r;
    next.set_state(target);
    *next.mutable_update_time() = ToProtoTime(now);
    if (publish && !next.has_publish_time()) *next.mutable_publish_time() = next.update_time();
    SealRotation(&next);
    Event event = CatalogEvent(publish ? "rotation.published" : "rotation.archived", next.name(),
                               who, now);
    if (publish) {
      *event.mutable_rotation_published() = RotationChangeOf(next);
    } else {
      *event.mutable_rotation_archived() = RotationChangeOf(next);
    }
    RotationWrite write{next, SearchTermsOf(next), current.time_zone};
    step.write = [store, transition, write = std::move(write), event = std::move(event), now,
                  expected = r.etag()](Done<StoredRotation> done) {
      store->WriteRotation(transition, expected, write, event, now, std::move(done));
    };
    return step;
  };
  ReadModifyWrite<StoredRotation>::Run(
      [store, id, now](Done<StoredRotation> done) { store->GetRotation(id, now, std::move(done)); },
      std::move(decide), !etag.empty(), name, ReplyRotation(reactor, response, name));
  return reactor;
}

grpc::ServerUnaryReactor* CatalogServiceImpl::SearchRotations(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response) {
  v1::SearchRotationsRequest request;
  if (!ParseRequest(*request_bytes, &request)) return FinishNow(context, Unparsable(request));
  absl::StatusOr<SearchQuery> query = ParseSearchQuery(request);
  if (!query.ok()) return FinishNow(context, query.status());
  absl::StatusOr<int> page_size = PageSize(request.page_size());
  if (!page_size.ok()) return FinishNow(context, page_size.status());
  std::optional<SearchCursor> cursor;
  if (!request.page_token().empty()) {
    absl::StatusOr<PageCursor> token = DecodePageToken(request.page_token(), query->fingerprint);
    if (!token.ok()) return FinishNow(context, token.status());
    cursor = DecodeSearchCursor(token->position);
    if (!cursor) {
      return FinishNow(context, InvalidFieldError("page_token", "is not a valid page token"));
    }
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->SearchRotations(
      *query, cursor, *page_size, clock_->Now(),
      [reactor, response, fingerprint = query->fingerprint](absl::StatusOr<SearchPage> page) {
        if (!page.ok()) {
          reactor->Finish(ToGrpcStatus(page.status()));
          return;
        }
        // SearchRotationsResponse on the wire: each rotation as a length-delimited field 1,
        // then next_page_token (2) and total_size (3).
        size_t size = 16;
        for (const RotationWire& r : page->rotations) size += r.size() + 8;
        std::string bytes;
        bytes.reserve(size);
        for (const RotationWire& r : page->rotations) {
          AppendTag(v1::SearchRotationsResponse::kRotationsFieldNumber, kLengthDelimited, &bytes);
          AppendVarint(r.size(), &bytes);
          AppendRotation(r, &bytes);
        }
        if (page->more && !page->scores.empty() && !page->rotations.empty()) {
          std::string token = EncodePageToken(
              {fingerprint, EncodeSearchCursor(SearchCursor{
                                page->scores.back(), page->rotations.back().record->id})});
          AppendTag(v1::SearchRotationsResponse::kNextPageTokenFieldNumber, kLengthDelimited,
                    &bytes);
          AppendVarint(token.size(), &bytes);
          bytes += token;
        }
        if (page->total_size != 0) {
          AppendTag(v1::SearchRotationsResponse::kTotalSizeFieldNumber, kVarint, &bytes);
          // int32 fields are encoded as 64-bit varints (negative values sign-extended).
          AppendVarint(static_cast<uint64_t>(static_cast<int64_t>(page->total_size)), &bytes);
        }
        *response = OwningBuffer(std::move(bytes));
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

// ---- Sessions ----------------------------------------------------------------------------

grpc::ServerUnaryReactor* CatalogServiceImpl::CreateSession(
    grpc::CallbackServerContext* context, const v1::CreateSessionRequest* request,
    v1::Session* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = RequireManager(who); !s.ok()) return FinishNow(context, s);
  v1::CreateSessionRequest normalized = *request;
  if (normalized.has_session()) NormalizeSessionInput(normalized.mutable_session());
  if (absl::Status s = ValidateCreateSession(normalized); !s.ok()) return FinishNow(context, s);

  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::string rotation_id = ResourceId(request->parent(), "rotations");
  std::string session_id =
      request->session_id().empty() ? NewResourceId() : request->session_id();
  absl::Time now = clock_->Now();
  CatalogStore* store = store_;
  store_->GetRotation(
      rotation_id, now,
      [store, who, reactor, response, now, rotation_id, session_id,
       session = normalized.session(),
       request_id = request->request_id()](absl::StatusOr<StoredRotation> rotation) mutable {
        absl::Status s = rotation.status();
        if (s.ok()) s = RequireManagerOf(who, rotation->rotation.site());
        if (s.ok() && rotation->rotation.state() == v1::Rotation::ARCHIVED) {
          s = ArchivedError(rotation->rotation.name());
        }
        if (!s.ok()) {
          reactor->Finish(ToGrpcStatus(s));
          return;
        }
        const v1::Rotation& r = rotation->rotation;
        session.set_name(absl::StrCat(r.name(), "/sessions/", session_id));
        *session.mutable_create_time() = ToProtoTime(now);
        *session.mutable_update_time() = session.create_time();
        SealSession(&session);
        SessionWrite write{rotation_id, session_id, session,
                           ApplicationsCloseAt(session.application_deadline(),
                                               rotation->time_zone)};
        Event event = CatalogEvent("session.created", session.name(), who, now);
        *event.mutable_session_created() = SessionChangeOf(session, r.name(), r.site());
        event.mutable_session_created()->set_seats_available(session.capacity());
        store->CreateSession(write, request_id, event, now,
                             ReplySession(reactor, response, r.name()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* CatalogServiceImpl::UpdateSession(
    grpc::CallbackServerContext* context, const v1::UpdateSessionRequest* request,
    v1::Session* response) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = RequireManager(who); !s.ok()) return FinishNow(context, s);
  if (absl::Status s = ValidateUpdateSessionRequest(*request); !s.ok()) {
    return FinishNow(context, s);
  }
  {
    v1::Session scratch;
    auto paths = ApplySessionUpdate(request->session(), request->update_mask(), &scratch);
    if (!paths.ok()) return FinishNow(context, paths.status());
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const std::string& name = request->session().name();
  std::string rotation_id, session_id;
  ParseSessionName(name, &rotation_id, &session_id);
  absl::Time now = clock_->Now();
  CatalogStore* store = store_;
  auto decide = [store, who, now, rotation_id, session_id, patch = request->session(),
                 mask = request->update_mask()](
                    const StoredSession& current) -> absl::StatusOr<SessionStep> {
    const v1::Session& s = current.session;
    std::string rotation_name = RotationNameOfSession(s.name());
    if (absl::Status st = RequireManagerOf(who, current.rotation_site); !st.ok()) return st;
    if (current.rotation_state == v1::Rotation::ARCHIVED) return ArchivedError(rotation_name);
    if (!patch.etag().empty() && patch.etag() != s.etag()) return StaleEtag(s.name());
    v1::Session next = s;
    absl::StatusOr<std::vector<std::string>> paths = ApplySessionUpdate(patch, mask, &next);
    if (!paths.ok()) return paths.status();
    SessionStep step;
    if (paths->empty()) {
      step.unchanged = true;
      return step;
    }
    Validator v;
    ValidateSessionFields(next, &v);
    if (!v.ok()) return v.Finish();
    *next.mutable_update_time() = ToProtoTime(now);
    SealSession(&next);
    Event event = CatalogEvent("session.updated", next.name(), who, now);
    *event.mutable_session_updated() =
        SessionChangeOf(next, rotation_name, current.rotation_site);
    for (const std::string& p : *paths) event.mutable_session_updated()->add_changed_fields(p);
    SessionWrite write{rotation_id, session_id, next,
                       ApplicationsCloseAt(next.application_deadline(), current.time_zone)};
    step.write = [store, write = std::move(write), event = std::move(event), now,
                  expected = s.etag()](Done<StoredSession> done) {
      store->UpdateSession(expected, write, event, now, std::move(done));
    };
    return step;
  };
  ReadModifyWrite<StoredSession>::Run(
      [store, rotation_id, session_id, now](Done<StoredSession> done) {
        store->GetSession(rotation_id, session_id, now, std::move(done));
      },
      std::move(decide), !request->session().etag().empty(), name,
      ReplySession(reactor, response, name));
  return reactor;
}

grpc::ServerUnaryReactor* CatalogServiceImpl::ListSessions(
    grpc::CallbackServerContext* context, const v1::ListSessionsRequest* request,
    v1::ListSessionsResponse* response) {
  Validator v;
  v.RequireName("parent", request->parent(), "rotations");
  v.Check(request->page_size() >= 0, "page_size", "must not be negative");
  if (!v.ok()) return FinishNow(context, v.Finish());
  int limit = *PageSize(request->page_size());
  uint64_t fingerprint = Fingerprint(
      absl::StrCat("sessions|", request->parent(), "|open=", request->open_only()));
  std::optional<SearchCursor> cursor;
  if (!request->page_token().empty()) {
    absl::StatusOr<PageCursor> token = DecodePageToken(request->page_token(), fingerprint);
    if (!token.ok()) return FinishNow(context, token.status());
    cursor = DecodeSearchCursor(token->position);
    if (!cursor) {
      return FinishNow(context, InvalidFieldError("page_token", "is not a valid page token"));
    }
  }
  auth::Identity who = auth::IdentityFrom(*context);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->ListSessions(
      ResourceId(request->parent(), "rotations"),
      cursor ? std::optional<int64_t>(cursor->score) : std::nullopt,
      cursor ? cursor->rotation_id : "", limit + 1, request->open_only(), clock_->Now(),
      [who, reactor, response, limit, fingerprint,
       parent = request->parent()](absl::StatusOr<SessionPage> page) {
        if (page.ok() && page->rotation_state == v1::Rotation::DRAFT &&
            !CanManageSite(who, page->rotation_site)) {
          page = RotationNotFound(parent);
        }
        if (!page.ok()) {
          reactor->Finish(ToGrpcStatus(page.status()));
          return;
        }
        bool more = static_cast<int>(page->sessions.size()) > limit;
        if (more) page->sessions.resize(limit);
        for (v1::Session& s : page->sessions) *response->add_sessions() = std::move(s);
        if (more) {
          const v1::Session& last = *response->sessions().rbegin();
          SearchCursor next{DayNumber(last.start_date()),
                            last.name().substr(last.name().rfind('/') + 1)};
          response->set_next_page_token(EncodePageToken({fingerprint, EncodeSearchCursor(next)}));
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* CatalogServiceImpl::GetSession(grpc::CallbackServerContext* context,
                                                         const v1::GetSessionRequest* request,
                                                         v1::Session* response) {
  Validator v;
  if (!RequireSessionName(&v, "name", request->name())) return FinishNow(context, v.Finish());
  std::string rotation_id, session_id;
  ParseSessionName(request->name(), &rotation_id, &session_id);
  auth::Identity who = auth::IdentityFrom(*context);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->GetSession(
      rotation_id, session_id, clock_->Now(),
      [who, reactor, response, name = request->name()](absl::StatusOr<StoredSession> s) {
        if (s.ok() && s->rotation_state == v1::Rotation::DRAFT &&
            !CanManageSite(who, s->rotation_site)) {
          s = SessionNotFound(name);
        }
        if (!s.ok()) {
          reactor->Finish(ToGrpcStatus(s.status()));
          return;
        }
        *response = std::move(s->session);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

}  // namespace clerkship::catalog
