#include "services/notification/event_processor.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "common/logging/log.h"
#include "common/status/status.h"
#include "common/status/validation.h"
#include "common/util/ids.h"
#include "services/notification/quiet_hours.h"
#include "services/notification/redis_notification_store.h"
#include "services/notification/settings_rules.h"

namespace clerkship::notification {
namespace {

using clerkship::events::v1::ApplicationTransitioned;
using clerkship::events::v1::DocumentChange;
using clerkship::events::v1::Event;

constexpr char kDomain[] = "clerkship.notification";

absl::Status Poison(absl::string_view why) {
  return ErrorWithInfo(absl::StatusCode::kInvalidArgument, why, "UNPROCESSABLE_EVENT", kDomain);
}

// 09:00 on a calendar day in a zone: when day-based reminders go out.
std::optional<absl::Time> MorningOf(const std::string& yyyy_mm_dd, absl::TimeZone tz) {
  absl::CivilDay day;
  if (!IsValidDate(yyyy_mm_dd) || !absl::ParseCivilTime(yyyy_mm_dd, &day)) return std::nullopt;
  return absl::FromCivil(absl::CivilHour(day.year(), day.month(), day.day(), 9), tz);
}

absl::TimeZone ZoneOr(const std::string& name, absl::TimeZone fallback) {
  absl::TimeZone tz;
  return LoadTimeZoneByName(name, &tz) ? tz : fallback;
}

// Orders the events that decide about one reminder.
int64_t EventVersion(const Event& event) {
  return event.has_time() ? absl::ToUnixMillis(FromProtoTime(event.time())) : 0;
}

std::string SerializedCreatedEvent(const v1::Notification& n) {
  Event e = events::NewEvent("notification", "notification.created", n.name(),
                             "services/notification");
  auto* created = e.mutable_notification_created();
  created->set_notification(n.name());
  created->set_recipient(n.recipient());
  created->set_notification_type(n.type());
  return e.SerializeAsString();
}

}  // namespace

std::vector<v1::Delivery> PlanDeliveries(const v1::Notification& notification,
                                         const v1::NotificationSettings& settings,
                                         bool email_channel, bool email_address_known,
                                         absl::Time now) {
  std::vector<v1::Delivery> out;
  auto add = [&](v1::Delivery::Channel channel, const char* suffix) {
    v1::Delivery d;
    d.set_name(absl::StrCat(notification.name(), "/deliveries/", suffix));
    d.set_notification(notification.name());
    d.set_recipient(notification.recipient());
    d.set_channel(channel);
    d.set_state(v1::Delivery::PENDING);
    *d.mutable_create_time() = ToProtoTime(now);
    out.push_back(std::move(d));
  };
  if (email_channel && settings.email_enabled() && email_address_known) {
    add(v1::Delivery::EMAIL, "email");
  }
  if (settings.webhook_enabled() && !settings.webhook_url().empty()) {
    add(v1::Delivery::WEBHOOK, "webhook");
  }
  return out;
}

NotificationComposer::NotificationComposer(NotificationStore* store,
                                           RecipientDirectory* directory,
                                           RoundResultsSource* rounds, Clock* clock,
                                           ComposerOptions options, NotificationMetrics* metrics)
    : store_(store),
      directory_(directory),
      rounds_(rounds),
      clock_(clock),
      options_(options),
      metrics_(metrics) {}

absl::StatusOr<NotificationComposer::Recipient> NotificationComposer::ResolveRecipient(
    const std::string& applicant_id, const std::string& fallback_time_zone) {
  Recipient r;
  r.id = applicant_id;
  absl::StatusOr<StoredSettings> stored = Await<StoredSettings>(
      [&](Done<StoredSettings> done) { store_->GetSettings(applicant_id, std::move(done)); });
  if (!stored.ok()) return stored.status();
  r.settings = stored->exists ? stored->settings : DefaultSettings(applicant_id);

  absl::StatusOr<RecipientProfile> profile =
      directory_->LookupSync(absl::StrCat("applicants/", applicant_id));
  // The profile only improves the text (name, zone): without it the message still goes
  // out, so an applicant-service outage delays nothing.
  std::string zone = r.settings.time_zone();
  if (profile.ok()) {
    r.info.given_name = profile->given_name;
    if (zone.empty()) zone = profile->time_zone;
  }
  r.info.time_zone = ZoneOr(zone, ZoneOr(fallback_time_zone, absl::UTCTimeZone()));
  bool profile_absent = !profile.ok() && (profile.status().code() == absl::StatusCode::kNotFound ||
                                          profile.status().code() == absl::StatusCode::kUnimplemented);
  r.has_email_address = !r.settings.email_address().empty() ||
                        (profile.ok() && !profile->email.empty()) || (!profile.ok() && !profile_absent);
  return r;
}

NotificationWrite NotificationComposer::Compose(const Recipient& recipient,
                                                const RenderedMessage& message,
                                                const std::string& source_event) {
  absl::Time now = clock_->Now();
  v1::Notification n;
  n.set_name(absl::StrCat("applicants/", recipient.id, "/notifications/", NewNotificationId(now)));
  n.set_recipient(absl::StrCat("applicants/", recipient.id));
  n.set_type(message.type);
  n.set_title(message.title);
  n.set_body(message.body);
  n.set_html_body(message.html_body);
  n.set_subject(message.subject);
  n.set_source_event(source_event);
  *n.mutable_create_time() = ToProtoTime(now);

  NotificationWrite w;
  w.recipient_id = recipient.id;
  w.now = now;
  w.dedupe_ttl = options_.dedupe_ttl;
  w.deliveries = PlanDeliveries(n, recipient.settings, options_.email_channel,
                                recipient.has_email_address, now);
  w.created_event = SerializedCreatedEvent(n);
  w.notification = std::move(n);
  return w;
}

absl::Status NotificationComposer::Commit(NotificationWrite write, const char* origin) {
  bool notifies = write.notification.has_value();
  absl::StatusOr<WriteResult> result = Await<WriteResult>(
      [&](Done<WriteResult> done) { store_->Write(std::move(write), std::move(done)); });
  if (!result.ok()) return result.status();
  if (result->outcome == WriteResult::Outcome::kWritten && notifies) {
    metrics_->Created(origin);
  }
  return absl::OkStatus();
}

absl::Status NotificationComposer::HandleEntry(const events::StreamEntry& entry) {
  if (absl::StartsWith(entry.type, "notification.")) return absl::OkStatus();
  Event event;
  if (!event.ParseFromString(entry.data) || event.id().empty()) {
    metrics_->Event("failed");
    return Poison("the entry's event does not parse as clerkship.events.v1.Event");
  }
  absl::Status s = HandleEvent(event);
  metrics_->Event(s.ok() ? "handled" : "failed");
  return s;
}

absl::Status NotificationComposer::HandleEvent(const Event& event) {
  if (absl::StartsWith(event.type(), "application.")) return HandleApplication(event);
  if (absl::StartsWith(event.type(), "document.")) return HandleDocument(event);
  if (event.type() == "round.published") return HandleRound(event);
  return absl::OkStatus();  // other events (catalog changes, seats) notify nobody
}

absl::Status NotificationComposer::HandleApplication(const Event& event) {
  std::string type = ApplicationNotificationType(event);
  if (type.empty()) return absl::OkStatus();  // a state we do not know: not for us
  const ApplicationTransitioned& app = event.application_transitioned();
  std::string applicant_id = ResourceId(app.applicant(), "applicants");
  std::string application_id = ResourceId(app.application(), "applications");
  if (applicant_id.empty() || application_id.empty()) {
    return Poison("application event without a valid applicant or application name");
  }
  absl::StatusOr<Recipient> recipient = ResolveRecipient(applicant_id, app.site_time_zone());
  if (!recipient.ok()) return recipient.status();

  NotificationWrite w = Compose(*recipient, RenderApplication(type, app, recipient->info), event.id());
  w.dedupe = NotificationWrite::Dedupe::kSeen;
  w.dedupe_key = absl::StrCat("ntf:seen:", event.id());

  // Reminders follow the application: an offer gets an expiry reminder, an accepted
  // place a start reminder; leaving those states cancels them.
  absl::Time now = clock_->Now();
  const int64_t version = EventVersion(event);
  const std::string offer_member = absl::StrCat("offer:", application_id);
  const std::string session_member = absl::StrCat("session:", application_id);
  const std::string state = app.to_state();
  if (state == "OFFERED" && app.has_offer_expire_time()) {
    absl::Time due = FromProtoTime(app.offer_expire_time()) - options_.offer_reminder_lead;
    if (due > now) {
      w.schedule.push_back(
          {offer_member, due, "offer_expiring", applicant_id, event.SerializeAsString(), version});
    }
  } else if (state != "OFFERED") {
    w.cancel.push_back({offer_member, version});
  }
  if (state == "ACCEPTED") {
    absl::TimeZone site_zone = ZoneOr(app.site_time_zone(), recipient->info.time_zone);
    std::optional<absl::Time> start = MorningOf(app.session_start_date(), site_zone);
    if (start && *start - options_.session_reminder_lead > now) {
      w.schedule.push_back({session_member, *start - options_.session_reminder_lead,
                            "session_starting", applicant_id, event.SerializeAsString(), version});
    }
  } else if (state != "OFFERED" && state != "SUBMITTED" && state != "WAITLISTED") {
    w.cancel.push_back({session_member, version});
  }
  return Commit(std::move(w), "event");
}

absl::Status NotificationComposer::HandleDocument(const Event& event) {
  const DocumentChange* doc = nullptr;
  if (event.type() == "document.added" && event.has_document_added()) doc = &event.document_added();
  if (event.type() == "document.verified" && event.has_document_verified()) doc = &event.document_verified();
  if (event.type() == "document.rejected" && event.has_document_rejected()) doc = &event.document_rejected();
  if (doc == nullptr) {
    if (event.type() == "document.added" || event.type() == "document.verified" ||
        event.type() == "document.rejected") {
      return Poison("document event without its payload");
    }
    return absl::OkStatus();
  }
  std::string applicant_id = ResourceId(doc->applicant(), "applicants");
  std::vector<std::string> parts = absl::StrSplit(doc->document(), '/');
  if (applicant_id.empty() || parts.size() != 4 || parts[0] != "applicants" ||
      parts[1] != applicant_id || parts[2] != "documents" || !IsValidResourceId(parts[3])) {
    return Poison("document event without a valid applicant or document name");
  }
  absl::StatusOr<Recipient> recipient = ResolveRecipient(applicant_id, "");
  if (!recipient.ok()) return recipient.status();

  NotificationWrite w;
  if (event.type() == "document.added") {
    w.recipient_id = applicant_id;
    w.now = clock_->Now();
    w.dedupe_ttl = options_.dedupe_ttl;
  } else {
    w = Compose(*recipient, RenderDocument(event.type(), *doc, recipient->info), event.id());
  }
  w.dedupe = NotificationWrite::Dedupe::kSeen;
  w.dedupe_key = absl::StrCat("ntf:seen:", event.id());
  const std::string member = absl::StrCat("document:", applicant_id, ":", parts[3]);
  const int64_t version = EventVersion(event);
  if (event.type() == "document.rejected") {
    w.cancel.push_back({member, version});
  } else if (!doc->expiry_date().empty()) {
    std::optional<absl::Time> expiry = MorningOf(doc->expiry_date(), recipient->info.time_zone);
    if (expiry && *expiry - options_.document_reminder_lead > w.now) {
      w.schedule.push_back({member, *expiry - options_.document_reminder_lead,
                            "document_expiring", applicant_id, event.SerializeAsString(), version});
    }
  }
  return Commit(std::move(w), "event");
}

absl::Status NotificationComposer::HandleRound(const Event& event) {
  if (!event.has_round_published() || event.round_published().round().empty()) {
    return Poison("round.published without its payload");
  }
  absl::StatusOr<std::vector<RoundOutcome>> outcomes =
      rounds_->ListOutcomes(event.round_published().round());
  if (!outcomes.ok()) {
    if (outcomes.status().code() == absl::StatusCode::kUnimplemented) {
      log::Warning("round.published ignored: no matching service configured",
                   {{"event_id", event.id()}});
      return absl::OkStatus();
    }
    return outcomes.status();
  }
  // One notification per participant, each deduplicated on its own, so a retry after a
  // crash half-way through only writes the ones still missing.
  for (const RoundOutcome& outcome : *outcomes) {
    std::string applicant_id = ResourceId(outcome.applicant, "applicants");
    if (applicant_id.empty()) continue;
    absl::StatusOr<Recipient> recipient = ResolveRecipient(applicant_id, "");
    if (!recipient.ok()) return recipient.status();
    NotificationWrite w = Compose(
        *recipient, RenderRoundPublished(event.round_published(), outcome.matched, recipient->info),
        event.id());
    w.dedupe = NotificationWrite::Dedupe::kSeen;
    w.dedupe_key = absl::StrCat("ntf:seen:", event.id(), ":", applicant_id);
    if (absl::Status s = Commit(std::move(w), "event"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status NotificationComposer::FireReminder(const ClaimedReminder& reminder) {
  NotificationWrite w;
  Event event;
  absl::Time now = clock_->Now();
  bool applies = event.ParseFromString(reminder.event) && IsValidResourceId(reminder.recipient_id);
  std::optional<RenderedMessage> message;
  std::optional<Recipient> recipient;
  if (applies) {
    const ApplicationTransitioned& app = event.application_transitioned();
    std::string fallback_zone = event.has_application_transitioned() ? app.site_time_zone() : "";
    absl::StatusOr<Recipient> r = ResolveRecipient(reminder.recipient_id, fallback_zone);
    if (!r.ok()) return r.status();
    recipient = std::move(*r);
    // A reminder whose deadline has already passed (the scheduler was down for a long
    // time) is dropped rather than sent late.
    if (reminder.kind == "offer_expiring" && event.has_application_transitioned() &&
        FromProtoTime(app.offer_expire_time()) > now) {
      message = RenderOfferExpiringReminder(app, recipient->info);
    } else if (reminder.kind == "session_starting" && event.has_application_transitioned()) {
      std::optional<absl::Time> start =
          MorningOf(app.session_start_date(), ZoneOr(app.site_time_zone(), recipient->info.time_zone));
      if (start && *start > now) message = RenderSessionStartingReminder(app, recipient->info);
    } else if (reminder.kind == "document_expiring") {
      const DocumentChange* doc = event.has_document_verified() ? &event.document_verified()
                                  : event.has_document_added()  ? &event.document_added()
                                                                : nullptr;
      std::optional<absl::Time> expiry =
          doc ? MorningOf(doc->expiry_date(), recipient->info.time_zone) : std::nullopt;
      if (expiry && *expiry > now) message = RenderDocumentExpiringReminder(*doc, recipient->info);
    }
  }
  if (message) {
    w = Compose(*recipient, *message, "");
    w.dedupe = NotificationWrite::Dedupe::kSeen;
    w.dedupe_key = absl::StrCat("ntf:seen:reminder:", reminder.member, ":", reminder.due_ms);
  } else {
    w.recipient_id = reminder.recipient_id;
    w.now = now;
  }
  w.claimed_reminder = reminder.member;
  w.claim_token = reminder.token;
  return Commit(std::move(w), "reminder");
}

void NotificationComposer::Send(const v1::SendNotificationRequest& request,
                                const std::string& recipient_id, Done<v1::Notification> done) {
  // Copy what the continuation needs: the request may be gone when Redis answers.
  RenderedMessage message{request.type(), request.title(), request.body(), request.html_body(),
                          request.subject()};
  std::string dedupe_key = absl::StrCat("ntf:idem:send:", recipient_id, ":", request.request_id());
  store_->GetSettings(
      recipient_id, [this, recipient_id, message = std::move(message),
                     dedupe_key = std::move(dedupe_key),
                     done = std::move(done)](absl::StatusOr<StoredSettings> stored) mutable {
        if (!stored.ok()) return done(stored.status());
        Recipient r;
        r.id = recipient_id;
        r.settings = stored->exists ? stored->settings : DefaultSettings(recipient_id);
        r.has_email_address = true;  // the delivery worker finds out for sure
        NotificationWrite w = Compose(r, message, "");
        w.dedupe = NotificationWrite::Dedupe::kRequestId;
        w.dedupe_key = std::move(dedupe_key);
        store_->Write(std::move(w), [this, done = std::move(done)](absl::StatusOr<WriteResult> result) {
          if (!result.ok()) return done(result.status());
          if (!result->notification) {
            // The first call's notification has since left the inbox (retention).
            return done(ErrorWithInfo(absl::StatusCode::kAlreadyExists,
                                      "this request_id was used for a notification that is no "
                                      "longer in the inbox",
                                      "REQUEST_ID_USED", kDomain));
          }
          if (result->outcome == WriteResult::Outcome::kWritten) metrics_->Created("api");
          done(std::move(*result->notification));
        });
      });
}

}  // namespace clerkship::notification
