#pragma once

// The text of every built-in notification: a title (the e-mail subject), a plain-text body
// and an HTML body, rendered for one recipient with dates and deadlines in their time
// zone. Plain domain code over the event payloads; no Redis, no gRPC.

#include <string>

#include "absl/time/time.h"
#include "clerkship/events/v1/events.pb.h"

namespace clerkship::notification {

// Who the message is for, as far as the text is concerned.
struct RecipientInfo {
  std::string given_name;  // empty when unknown: the greeting is then generic
  absl::TimeZone time_zone = absl::UTCTimeZone();
};

struct RenderedMessage {
  std::string type;       // Notification.type, e.g. "application.offered"
  std::string title;      // 1-200 bytes
  std::string body;       // plain text, 1-10,000 bytes
  std::string html_body;  // complete HTML document; every interpolated value escaped
  std::string subject;    // resource the message is about
};

// The Notification.type for an application transition, or "" when the state is not one
// the platform notifies about. An offer made by the matching service outside a round is a
// promotion from the waitlist ("application.promoted").
std::string ApplicationNotificationType(const clerkship::events::v1::Event& event);

RenderedMessage RenderApplication(const std::string& type,
                                  const clerkship::events::v1::ApplicationTransitioned& app,
                                  const RecipientInfo& recipient);
// type: "document.verified" or "document.rejected".
RenderedMessage RenderDocument(const std::string& type,
                               const clerkship::events::v1::DocumentChange& doc,
                               const RecipientInfo& recipient);
// `matched_session` empty when the recipient was not matched in the round.
RenderedMessage RenderRoundPublished(const clerkship::events::v1::RoundPublished& round,
                                     bool matched, const RecipientInfo& recipient);

RenderedMessage RenderOfferExpiringReminder(
    const clerkship::events::v1::ApplicationTransitioned& app, const RecipientInfo& recipient);
RenderedMessage RenderSessionStartingReminder(
    const clerkship::events::v1::ApplicationTransitioned& app, const RecipientInfo& recipient);
RenderedMessage RenderDocumentExpiringReminder(const clerkship::events::v1::DocumentChange& doc,
                                               const RecipientInfo& recipient);

// Formatting helpers, exposed for tests.
// "2027-03-01" → "Mon, Mar 1, 2027" (a calendar day: no time-zone conversion); the input
// unchanged if it is not a date.
std::string FormatDay(const std::string& yyyy_mm_dd);
// A moment in the recipient's zone: "Wed, Feb 10, 2027 at 5:00 PM EST".
std::string FormatMoment(absl::Time t, absl::TimeZone tz);
std::string HtmlEscape(const std::string& text);
// Cuts to at most max_bytes without splitting a UTF-8 sequence, marking the cut with "…".
std::string TruncateUtf8(const std::string& text, size_t max_bytes);

}  // namespace clerkship::notification
