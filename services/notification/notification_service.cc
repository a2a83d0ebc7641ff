#include "services/notification/notification_service.h"

#include <deque>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/auth/identity.h"
#include "common/server/reactor.h"
#include "common/status/status.h"
#include "common/status/validation.h"
#include "common/util/ids.h"
#include "common/util/page_token.h"

namespace clerkship::notification {
namespace {

constexpr char kDomain[] = "clerkship.notification";

// Applicants act for themselves; admins (and, where allowed, other backends) for anyone.
absl::Status CheckRecipientAccess(const auth::Identity& who, const std::string& recipient,
                                  bool allow_service) {
  if (who.is_admin() || who.is_applicant(recipient)) return absl::OkStatus();
  if (allow_service && who.role == auth::Role::kService) return absl::OkStatus();
  return auth::PermissionDenied("only the recipient may do this");
}

bool IsNotificationType(const std::string& type) {
  if (type.empty() || type.size() > 64) return false;
  bool segment_start = true;
  for (char c : type) {
    if (segment_start) {
      if (!absl::ascii_islower(static_cast<unsigned char>(c))) return false;
      segment_start = false;
    } else if (c == '.') {
      segment_start = true;
    } else if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
               !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return !segment_start;
}

// A stream entry id "<ms>-<seq>".
bool IsStreamEntryId(const std::string& id) {
  std::vector<std::string> parts = absl::StrSplit(id, '-');
  if (parts.size() != 2) return false;
  for (const std::string& p : parts) {
    if (p.empty() || p.size() > 20) return false;
    for (char c : p) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    }
  }
  return true;
}

std::string SettingsEtag(const v1::NotificationSettings& settings) {
  v1::NotificationSettings copy = PublicSettings(settings);
  copy.clear_etag();
  return EtagOf(copy.SerializeAsString());
}

grpc::ServerUnaryReactor* Authenticated(grpc::CallbackServerContext* context,
                                        auth::Identity* who) {
  *who = auth::IdentityFrom(*context);
  absl::Status s = auth::RequireAuthenticated(*who);
  return s.ok() ? nullptr : FinishNow(context, s);
}

// A stream that ends before it starts (bad request, not allowed).
class FinishedStream final : public grpc::ServerWriteReactor<v1::Notification> {
 public:
  explicit FinishedStream(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// One StreamNotifications call. Notifications wait in a bounded queue and are written one
// at a time; a client that lets the queue fill up is ended with RESOURCE_EXHAUSTED, and a
// stream that cannot even finish (the client stopped reading) is cancelled after a grace
// period. gRPC never runs OnWriteDone or OnDone inline, so calling into gRPC under mu_ is
// safe; the hub's lock is only ever taken before mu_, never after it.
class NotificationStreamReactor final : public grpc::ServerWriteReactor<v1::Notification>,
                                        public StreamSubscriber {
 public:
  NotificationStreamReactor(grpc::CallbackServerContext* context, LiveStreamHub* hub,
                            std::string recipient_id, size_t queue_limit, absl::Duration grace)
      : context_(context),
        hub_(hub),
        recipient_id_(std::move(recipient_id)),
        queue_limit_(queue_limit),
        grace_(grace) {}

  void Begin() {
    absl::Status s = hub_->Subscribe(this);
    absl::MutexLock lock(&mu_);
    if (!s.ok()) {
      RequestFinish(ToGrpcStatus(s));
      return;
    }
    subscribed_ = true;
    // Initial metadata tells the client that the subscription is in place. A write that
    // already started carries it; it must not be sent twice.
    if (!ever_wrote_ && !finish_requested_) StartSendInitialMetadata();
  }

  const std::string& recipient_id() const override { return recipient_id_; }

  void Push(std::shared_ptr<const v1::Notification> notification) override {
    absl::MutexLock lock(&mu_);
    if (finish_requested_) return;
    if (queue_.size() >= queue_limit_) {
      RequestFinish(ToGrpcStatus(ErrorWithInfo(
          absl::StatusCode::kResourceExhausted,
          "the client fell too far behind; reconnect and list what was missed",
          "CLIENT_TOO_SLOW", kDomain)));
      return;
    }
    queue_.push_back(std::move(notification));
    if (!writing_) {
      writing_ = true;
      ever_wrote_ = true;
      StartWrite(queue_.front().get());
    }
  }

  void Close(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    RequestFinish(status);
  }

  void Tick(absl::Time now) override {
    absl::MutexLock lock(&mu_);
    if (finish_requested_ && !finished_ && !cancel_sent_ && now - finish_requested_at_ > grace_) {
      cancel_sent_ = true;
      context_->TryCancel();
    }
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!queue_.empty()) queue_.pop_front();
    if (!ok && !finish_requested_) {
      RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    if (finish_requested_) {
      FinishOnce();
    } else if (!queue_.empty()) {
      writing_ = true;
      StartWrite(queue_.front().get());
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    if (subscribed_) hub_->Unsubscribe(this);
    delete this;
  }

 private:
  // Finishes now, or right after the write in flight.
  void RequestFinish(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_requested_) return;
    finish_requested_ = true;
    finish_requested_at_ = absl::Now();
    finish_status_ = std::move(status);
    if (writing_) {
      queue_.erase(queue_.begin() + 1, queue_.end());  // keep only the one being written
    } else {
      queue_.clear();
      FinishOnce();
    }
  }

  void FinishOnce() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(finish_status_);
  }

  grpc::CallbackServerContext* context_;
  LiveStreamHub* hub_;
  const std::string recipient_id_;
  const size_t queue_limit_;
  const absl::Duration grace_;
  bool subscribed_ = false;  // set in Begin, before gRPC can call OnDone

  absl::Mutex mu_;
  std::deque<std::shared_ptr<const v1::Notification>> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool ever_wrote_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool cancel_sent_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time finish_requested_at_ ABSL_GUARDED_BY(mu_);
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::pair<std::string, std::string> ParseNotificationName(const std::string& name) {
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  if (parts.size() != 4 || parts[0] != "applicants" || parts[2] != "notifications" ||
      !IsValidResourceId(parts[1]) || !IsValidResourceId(parts[3])) {
    return {"", ""};
  }
  return {parts[1], parts[3]};
}

NotificationServiceImpl::NotificationServiceImpl(NotificationStore* store,
                                                 NotificationComposer* composer,
                                                 LiveStreamHub* hub,
                                                 RecipientDirectory* directory, Clock* clock,
                                                 ServiceOptions options)
    : store_(store),
      composer_(composer),
      hub_(hub),
      directory_(directory),
      clock_(clock),
      options_(options) {}

grpc::ServerUnaryReactor* NotificationServiceImpl::ListNotifications(
    grpc::CallbackServerContext* context, const v1::ListNotificationsRequest* request,
    v1::ListNotificationsResponse* response) {
  auth::Identity who;
  if (auto* r = Authenticated(context, &who)) return r;
  Validator v;
  v.RequireName("parent", request->parent(), "applicants");
  absl::StatusOr<int> page_size = PageSize(request->page_size());
  if (!page_size.ok()) v.Add("page_size", "must be between 0 and 100");
  if (!v.ok()) return FinishNow(context, v.Finish());
  if (absl::Status s = CheckRecipientAccess(who, request->parent(), false); !s.ok()) {
    return FinishNow(context, s);
  }
  uint64_t fingerprint = CallerFingerprint(
      absl::StrCat("notifications|", request->parent(), "|", request->unread_only()),
      who.principal);
  std::string before;
  if (!request->page_token().empty()) {
    absl::StatusOr<PageCursor> cursor = DecodePageToken(request->page_token(), fingerprint);
    if (!cursor.ok()) return FinishNow(context, cursor.status());
    if (!IsValidResourceId(cursor->position)) {
      return FinishNow(context, InvalidFieldError("page_token", "is not a valid page token"));
    }
    before = cursor->position;
  }
  std::string recipient_id = ResourceId(request->parent(), "applicants");
  int limit = *page_size;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->ListNotifications(
      recipient_id, request->unread_only(), before, limit + 1, clock_->Now(),
      [reactor, response, limit, fingerprint](absl::StatusOr<NotificationPage> page) {
        if (!page.ok()) return reactor->Finish(ToGrpcStatus(page.status()));
        bool more = static_cast<int>(page->notifications.size()) > limit;
        if (more) page->notifications.resize(limit);
        for (v1::Notification& n : page->notifications) *response->add_notifications() = std::move(n);
        response->set_unread_count(page->unread_count);
        if (more) {
          const std::string& last = response->notifications().rbegin()->name();
          response->set_next_page_token(
              EncodePageToken({fingerprint, last.substr(last.rfind('/') + 1)}));
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* NotificationServiceImpl::MarkRead(grpc::CallbackServerContext* context,
                                                            const v1::MarkReadRequest* request,
                                                            v1::Notification* response) {
  auth::Identity who;
  if (auto* r = Authenticated(context, &who)) return r;
  auto [recipient_id, notification_id] = ParseNotificationName(request->name());
  if (recipient_id.empty()) {
    return FinishNow(context, InvalidFieldError(
                                  "name", "must be applicants/{applicant}/notifications/{notification}"));
  }
  // Only the recipient: "read" records that they saw it, which nobody can do for them.
  if (!who.is_applicant(absl::StrCat("applicants/", recipient_id))) {
    return FinishNow(context,
                     auth::PermissionDenied("only the recipient marks a notification read"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->MarkRead(recipient_id, notification_id, clock_->Now(), Respond(reactor, response));
  return reactor;
}

grpc::ServerWriteReactor<v1::Notification>* NotificationServiceImpl::StreamNotifications(
    grpc::CallbackServerContext* context, const v1::StreamNotificationsRequest* request) {
  auth::Identity who = auth::IdentityFrom(*context);
  if (absl::Status s = auth::RequireAuthenticated(who); !s.ok()) return new FinishedStream(s);
  Validator v;
  if (!v.RequireName("parent", request->parent(), "applicants")) {
    return new FinishedStream(v.Finish());
  }
  if (absl::Status s = CheckRecipientAccess(who, request->parent(), false); !s.ok()) {
    return new FinishedStream(s);
  }
  auto* reactor = new NotificationStreamReactor(context, hub_,
                                                ResourceId(request->parent(), "applicants"),
                                                options_.stream_queue_limit,
                                                options_.stream_finish_grace);
  reactor->Begin();
  return reactor;
}

grpc::ServerUnaryReactor* NotificationServiceImpl::GetNotificationSettings(
    grpc::CallbackServerContext* context, const v1::GetNotificationSettingsRequest* request,
    v1::NotificationSettings* response) {
  auth::Identity who;
  if (auto* r = Authenticated(context, &who)) return r;
  std::string recipient_id = SettingsApplicantId(request->name());
  if (recipient_id.empty()) {
    return FinishNow(context,
                     InvalidFieldError("name", "must be applicants/{applicant}/notificationSettings"));
  }
  std::string recipient = absl::StrCat("applicants/", recipient_id);
  if (absl::Status s = CheckRecipientAccess(who, recipient, true); !s.ok()) {
    return FinishNow(context, s);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->GetSettings(recipient_id, [this, reactor, response, recipient, recipient_id](
                                        absl::StatusOr<StoredSettings> stored) {
    if (!stored.ok()) return reactor->Finish(ToGrpcStatus(stored.status()));
    if (stored->exists) {
      *response = PublicSettings(stored->settings);
      return reactor->Finish(grpc::Status::OK);
    }
    // Never saved: defaults, unless there is no such applicant. When the applicant
    // service cannot tell, the defaults are the honest answer.
    directory_->Lookup(recipient, [reactor, response, recipient, recipient_id](
                                      absl::StatusOr<RecipientProfile> profile) {
      if (!profile.ok() && profile.status().code() == absl::StatusCode::kNotFound) {
        return reactor->Finish(ToGrpcStatus(ErrorWithInfo(
            absl::StatusCode::kNotFound, absl::StrCat("no applicant ", recipient),
            "APPLICANT_NOT_FOUND", kDomain)));
      }
      v1::NotificationSettings defaults = DefaultSettings(recipient_id);
      defaults.set_etag(SettingsEtag(defaults));
      *response = PublicSettings(defaults);
      reactor->Finish(grpc::Status::OK);
    });
  });
  return reactor;
}

// Read, check the etag, merge, write if nothing changed in between (the write script
// compares the stored etag), and when someone else won the race without the caller
// having asked for a specific version, start over.
class NotificationServiceImpl::SettingsUpdate
    : public std::enable_shared_from_this<SettingsUpdate> {
 public:
  SettingsUpdate(NotificationServiceImpl* service, grpc::ServerUnaryReactor* reactor,
                 const v1::UpdateNotificationSettingsRequest* request,
                 v1::NotificationSettings* response, std::string recipient_id)
      : service_(service),
        reactor_(reactor),
        request_(request),
        response_(response),
        recipient_id_(std::move(recipient_id)) {}

  void Run(int attempts_left) {
    auto self = shared_from_this();
    service_->store_->GetSettings(recipient_id_,
                                  [self, attempts_left](absl::StatusOr<StoredSettings> stored) {
                                    self->OnRead(std::move(stored), attempts_left);
                                  });
  }

 private:
  void OnRead(absl::StatusOr<StoredSettings> stored, int attempts_left) {
    if (!stored.ok()) return reactor_->Finish(ToGrpcStatus(stored.status()));
    v1::NotificationSettings current =
        stored->exists ? stored->settings : DefaultSettings(recipient_id_);
    std::string current_etag = stored->exists ? stored->etag : SettingsEtag(current);
    const std::string& wanted = request_->notification_settings().etag();
    if (!wanted.empty() && wanted != current_etag) {
      return reactor_->Finish(ToGrpcStatus(ErrorWithInfo(
          absl::StatusCode::kAborted,
          "the settings changed since they were read; read them again and retry",
          "ETAG_MISMATCH", kDomain)));
    }
    absl::StatusOr<v1::NotificationSettings> merged =
        ApplySettingsUpdate(current, *request_, service_->options_.settings_policy);
    if (!merged.ok()) return reactor_->Finish(ToGrpcStatus(merged.status()));
    merged->set_name(absl::StrCat("applicants/", recipient_id_, "/notificationSettings"));
    *merged->mutable_update_time() = ToProtoTime(service_->clock_->Now());
    merged->clear_webhook_secret_set();
    merged->set_etag(SettingsEtag(*merged));
    auto self = shared_from_this();
    v1::NotificationSettings result = *merged;
    service_->store_->PutSettings(
        recipient_id_, stored->exists ? stored->etag : "", *merged,
        [self, attempts_left, result = std::move(result)](absl::StatusOr<bool> put) {
          if (put.ok()) {
            *self->response_ = PublicSettings(result);
            return self->reactor_->Finish(grpc::Status::OK);
          }
          if (put.status().code() == absl::StatusCode::kAborted &&
              self->request_->notification_settings().etag().empty() && attempts_left > 0) {
            return self->Run(attempts_left - 1);
          }
          self->reactor_->Finish(ToGrpcStatus(put.status()));
        });
  }

  NotificationServiceImpl* service_;
  grpc::ServerUnaryReactor* reactor_;
  const v1::UpdateNotificationSettingsRequest* request_;
  v1::NotificationSettings* response_;
  std::string recipient_id_;
};

grpc::ServerUnaryReactor* NotificationServiceImpl::UpdateNotificationSettings(
    grpc::CallbackServerContext* context, const v1::UpdateNotificationSettingsRequest* request,
    v1::NotificationSettings* response) {
  auth::Identity who;
  if (auto* r = Authenticated(context, &who)) return r;
  std::string recipient_id = SettingsApplicantId(request->notification_settings().name());
  if (recipient_id.empty()) {
    return FinishNow(context, InvalidFieldError("notification_settings.name",
                                                "must be applicants/{applicant}/notificationSettings"));
  }
  if (absl::Status s = CheckRecipientAccess(who, absl::StrCat("applicants/", recipient_id), false);
      !s.ok()) {
    return FinishNow(context, s);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::make_shared<SettingsUpdate>(this, reactor, request, response, recipient_id)->Run(3);
  return reactor;
}

grpc::ServerUnaryReactor* NotificationServiceImpl::SendNotification(
    grpc::CallbackServerContext* context, const v1::SendNotificationRequest* request,
    v1::Notification* response) {
  auth::Identity who;
  if (auto* r = Authenticated(context, &who)) return r;
  if (!who.is_privileged()) {
    return FinishNow(context, auth::PermissionDenied("only backends and admins send notifications"));
  }
  Validator v;
  v.RequireName("recipient", request->recipient(), "applicants");
  v.Check(IsNotificationType(request->type()), "type",
          "must be a lower-case dotted name like admin.announcement, up to 64 characters");
  v.RequireLength("title", request->title(), 1, 200);
  v.RequireLength("body", request->body(), 1, 10000);
  v.RequireLength("html_body", request->html_body(), 0, 100000);
  v.RequireLength("subject", request->subject(), 0, 200);
  v.RequireLength("request_id", request->request_id(), 1, 200);
  if (!v.ok()) return FinishNow(context, v.Finish());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  composer_->Send(*request, ResourceId(request->recipient(), "applicants"),
                  Respond(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* NotificationServiceImpl::ListDeliveries(
    grpc::CallbackServerContext* context, const v1::ListDeliveriesRequest* request,
    v1::ListDeliveriesResponse* response) {
  auth::Identity who;
  if (auto* r = Authenticated(context, &who)) return r;
  if (!who.is_privileged()) {
    return FinishNow(context, auth::PermissionDenied("only backends and admins list deliveries"));
  }
  Validator v;
  std::string recipient_id, notification_id;
  if (request->recipient().empty() == request->notification().empty()) {
    v.Add(request->recipient().empty() ? "recipient" : "notification",
          "exactly one of recipient and notification is required");
  } else if (!request->recipient().empty()) {
    if (v.RequireName("recipient", request->recipient(), "applicants")) {
      recipient_id = ResourceId(request->recipient(), "applicants");
    }
  } else {
    std::tie(recipient_id, notification_id) = ParseNotificationName(request->notification());
    v.Check(!recipient_id.empty(), "notification",
            "must be applicants/{applicant}/notifications/{notification}");
  }
  absl::StatusOr<int> page_size = PageSize(request->page_size());
  if (!page_size.ok()) v.Add("page_size", "must be between 0 and 100");
  if (!v.ok()) return FinishNow(context, v.Finish());
  uint64_t fingerprint = CallerFingerprint(
      absl::StrCat("deliveries|", request->recipient(), "|", request->notification()),
      who.principal);
  std::string after;
  if (!request->page_token().empty()) {
    absl::StatusOr<PageCursor> cursor = DecodePageToken(request->page_token(), fingerprint);
    if (!cursor.ok()) return FinishNow(context, cursor.status());
    after = cursor->position;
  }
  int limit = *page_size;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->ListDeliveries(
      recipient_id, notification_id, after, limit + 1,
      [reactor, response, limit, fingerprint](
          absl::StatusOr<std::vector<std::pair<std::string, v1::Delivery>>> list) {
        if (!list.ok()) return reactor->Finish(ToGrpcStatus(list.status()));
        bool more = static_cast<int>(list->size()) > limit;
        if (more) list->resize(limit);
        for (auto& [member, d] : *list) *response->add_deliveries() = std::move(d);
        if (more) response->set_next_page_token(EncodePageToken({fingerprint, list->back().first}));
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* NotificationServiceImpl::ListDeadLetters(
    grpc::CallbackServerContext* context, const v1::ListDeadLettersRequest* request,
    v1::ListDeadLettersResponse* response) {
  auth::Identity who;
  if (auto* r = Authenticated(context, &who)) return r;
  if (!who.is_admin()) return FinishNow(context, auth::PermissionDenied("only admins list dead letters"));
  absl::StatusOr<int> page_size = PageSize(request->page_size());
  if (!page_size.ok()) return FinishNow(context, InvalidFieldError("page_size", "must be between 0 and 100"));
  uint64_t fingerprint = Fingerprint("deadLetters");
  std::string after;
  if (!request->page_token().empty()) {
    absl::StatusOr<PageCursor> cursor = DecodePageToken(request->page_token(), fingerprint);
    if (!cursor.ok()) return FinishNow(context, cursor.status());
    if (!IsStreamEntryId(cursor->position)) {
      return FinishNow(context, InvalidFieldError("page_token", "is not a valid page token"));
    }
    after = cursor->position;
  }
  int limit = *page_size;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->ListDeadLetters(after, limit + 1, [reactor, response, limit, fingerprint](
                                                absl::StatusOr<std::vector<v1::DeadLetter>> list) {
    if (!list.ok()) return reactor->Finish(ToGrpcStatus(list.status()));
    bool more = static_cast<int>(list->size()) > limit;
    if (more) list->resize(limit);
    for (v1::DeadLetter& d : *list) *response->add_dead_letters() = std::move(d);
    if (more) {
      const std::string& last = response->dead_letters().rbegin()->name();
      response->set_next_page_token(EncodePageToken({fingerprint, last.substr(last.find('/') + 1)}));
    }
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* NotificationServiceImpl::ReplayDeadLetter(
    grpc::CallbackServerContext* context, const v1::ReplayDeadLetterRequest* request,
    v1::ReplayDeadLetterResponse* response) {
  auth::Identity who;
  if (auto* r = Authenticated(context, &who)) return r;
  if (!who.is_admin()) return FinishNow(context, auth::PermissionDenied("only admins replay dead letters"));
  std::vector<std::string> parts = absl::StrSplit(request->name(), absl::MaxSplits('/', 1));
  if (parts.size() != 2 || parts[0] != "deadLetters" || !IsStreamEntryId(parts[1])) {
    return FinishNow(context, InvalidFieldError("name", "must be deadLetters/{id}, e.g. deadLetters/1767225600000-0"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_->ReplayDeadLetter(parts[1], [reactor, response](absl::StatusOr<ReplayResult> result) {
    if (!result.ok()) return reactor->Finish(ToGrpcStatus(result.status()));
    response->set_stream(result->stream);
    response->set_stream_entry_id(result->entry_id);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace clerkship::notification
