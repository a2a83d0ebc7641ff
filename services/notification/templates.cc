#include "services/notification/templates.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "common/util/ids.h"

namespace clerkship::notification {
namespace {

using clerkship::events::v1::ApplicationTransitioned;
using clerkship::events::v1::DocumentChange;
using clerkship::events::v1::Event;
using clerkship::events::v1::RoundPublished;

constexpr size_t kMaxTitle = 200;
constexpr size_t kMaxFreeText = 2000;  // reasons and review notes quoted in a body
constexpr size_t kMaxBody = 10000;

// Collects a message once and writes it out twice: as plain text and as HTML.
class MessageBuilder {
 public:
  MessageBuilder(std::string type, std::string subject, const RecipientInfo& recipient)
      : recipient_(recipient) {
    out_.type = std::move(type);
    out_.subject = std::move(subject);
  }

  MessageBuilder& Title(const std::string& title) {
    out_.title = TruncateUtf8(title, kMaxTitle);
    return *this;
  }
  MessageBuilder& Paragraph(const std::string& text) {
    if (!text.empty()) blocks_.push_back({text, {}});
    return *this;
  }
  MessageBuilder& Detail(const std::string& label, const std::string& value) {
    if (value.empty()) return *this;
    if (blocks_.empty() || blocks_.back().details.empty()) blocks_.push_back({"", {}});
    blocks_.back().details.emplace_back(label, value);
    return *this;
  }

  RenderedMessage Build() {
    std::string greeting = recipient_.given_name.empty()
                               ? "Hello,"
                               : absl::StrCat("Hi ", recipient_.given_name, ",");
    std::string text = greeting;
    std::string html = absl::StrCat(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>", HtmlEscape(out_.title),
        "</title></head><body style=\"font-family:sans-serif\"><p>", HtmlEscape(greeting),
        "</p>");
    for (const Block& b : blocks_) {
      absl::StrAppend(&text, "\n\n");
      if (b.details.empty()) {
        absl::StrAppend(&text, b.text);
        absl::StrAppend(&html, "<p>", HtmlEscape(b.text), "</p>");
        continue;
      }
      absl::StrAppend(&html, "<table>");
      for (size_t i = 0; i < b.details.size(); ++i) {
        absl::StrAppend(&text, i == 0 ? "" : "\n", b.details[i].first, ": ", b.details[i].second);
        absl::StrAppend(&html, "<tr><th align=\"left\">", HtmlEscape(b.details[i].first),
                        "</th><td>", HtmlEscape(b.details[i].second), "</td></tr>");
      }
      absl::StrAppend(&html, "</table>");
    }
    absl::StrAppend(&text, "\n\n-- \nClerkship");
    absl::StrAppend(&html, "<p>&mdash;<br>Clerkship</p></body></html>");
    out_.body = TruncateUtf8(text, kMaxBody);
    out_.html_body = std::move(html);
    return std::move(out_);
  }

 private:
  struct Block {
    std::string text;
    std::vector<std::pair<std::string, std::string>> details;
  };
  const RecipientInfo& recipient_;
  RenderedMessage out_;
  std::vector<Block> blocks_;
};

std::string Or(const std::string& value, const std::string& fallback) {
  return value.empty() ? fallback : value;
}

std::string RotationOf(const ApplicationTransitioned& app) {
  return Or(app.rotation_title(), "your rotation");
}

std::string SiteOf(const ApplicationTransitioned& app) {
  return Or(app.site_display_name(), "the site");
}

std::string SessionDates(const ApplicationTransitioned& app) {
  if (app.session_start_date().empty()) return "";
  if (app.session_end_date().empty()) return absl::StrCat("from ", FormatDay(app.session_start_date()));
  return absl::StrCat(FormatDay(app.session_start_date()), " to ",
                      FormatDay(app.session_end_date()));
}

std::string OfferDeadline(const ApplicationTransitioned& app, const RecipientInfo& r) {
  if (!app.has_offer_expire_time()) return "";
  return FormatMoment(FromProtoTime(app.offer_expire_time()), r.time_zone);
}

void AddRotationDetails(MessageBuilder& m, const ApplicationTransitioned& app) {
  m.Detail("Rotation", app.rotation_title())
      .Detail("Site", app.site_display_name())
      .Detail("Dates", SessionDates(app));
}

std::string Quote(const std::string& free_text) { return TruncateUtf8(free_text, kMaxFreeText); }

std::string DocumentNameOf(const DocumentChange& doc) {
  return Or(doc.display_name(), "your document");
}

// "Mon, Mar 1, 2027", independent of the C library's locale.
std::string DayString(absl::CivilDay day) {
  static const char* const kWeekdays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return absl::StrFormat("%s, %s %d, %d", kWeekdays[static_cast<int>(absl::GetWeekday(day))],
                         kMonths[day.month() - 1], day.day(), day.year());
}

}  // namespace

std::string ApplicationNotificationType(const Event& event) {
  if (!event.has_application_transitioned()) return "";
  const ApplicationTransitioned& app = event.application_transitioned();
  std::string state = absl::AsciiStrToLower(app.to_state());
  static const char* const kNotified[] = {"submitted", "offered",   "waitlisted", "rejected",
                                          "accepted",  "declined",  "withdrawn",  "expired",
                                          "cancelled", "completed"};
  bool known = false;
  for (const char* s : kNotified) known = known || state == s;
  if (!known) return "";
  if (state == "offered" && app.round().empty() &&
      (event.actor() == "services/matching" || app.from_state() == "WAITLISTED")) {
    return "application.promoted";
  }
  return absl::StrCat("application.", state);
}

RenderedMessage RenderApplication(const std::string& type, const ApplicationTransitioned& app,
                                  const RecipientInfo& recipient) {
  MessageBuilder m(type, app.application(), recipient);
  const std::string rotation = RotationOf(app);
  const std::string site = SiteOf(app);
  const std::string deadline = OfferDeadline(app, recipient);
  if (type == "application.submitted") {
    m.Title(absl::StrCat("Application received: ", rotation))
        .Paragraph(absl::StrCat("We received your application for ", rotation, " at ", site,
                                ". The site will review it and you will hear from us as soon "
                                "as it decides."));
    AddRotationDetails(m, app);
  } else if (type == "application.offered" || type == "application.promoted") {
    if (type == "application.promoted") {
      m.Title(absl::StrCat("A seat opened up: ", rotation, " at ", site))
          .Paragraph(absl::StrCat("A seat in ", rotation, " at ", site,
                                  " became free and you were next on the waitlist, so it is "
                                  "now offered to you."));
    } else {
      m.Title(absl::StrCat("Offer: ", rotation, " at ", site))
          .Paragraph(app.round().empty()
                         ? absl::StrCat("Good news: ", site, " has offered you a seat in ",
                                        rotation, ".")
                         : absl::StrCat("Good news: the placement round matched you to ",
                                        rotation, " at ", site, ", and the seat is offered to you."));
    }
    AddRotationDetails(m, app);
    m.Detail("Accept by", deadline);
    m.Paragraph(deadline.empty()
                    ? "Accept or decline the offer in the Clerkship app."
                    : "Accept or decline the offer in the Clerkship app before the deadline; "
                      "after it the seat goes to the next applicant.");
  } else if (type == "application.waitlisted") {
    m.Title(absl::StrCat("Waitlisted: ", rotation))
        .Paragraph(absl::StrCat(
            "The session of ", rotation, " at ", site,
            " is full for now, so your application is on the waitlist. If a seat opens up you "
            "will get an offer automatically."));
    AddRotationDetails(m, app);
    if (app.waitlist_position() > 0) m.Detail("Waitlist position", absl::StrCat(app.waitlist_position()));
  } else if (type == "application.rejected") {
    m.Title(absl::StrCat("Application not accepted: ", rotation))
        .Paragraph(absl::StrCat(site, " could not accept your application for ", rotation, "."));
    AddRotationDetails(m, app);
    m.Detail("Reason", Quote(app.reason()));
    m.Paragraph("Your documents stay in your vault, ready for your next application.");
  } else if (type == "application.accepted") {
    m.Title(absl::StrCat("You're confirmed: ", rotation))
        .Paragraph(absl::StrCat("You accepted the offer, and your seat in ", rotation, " at ",
                                site, " is confirmed."));
    AddRotationDetails(m, app);
  } else if (type == "application.declined") {
    m.Title(absl::StrCat("Offer declined: ", rotation))
        .Paragraph(absl::StrCat("You declined the offer for ", rotation, " at ", site,
                                ". The seat has been released."));
    AddRotationDetails(m, app);
  } else if (type == "application.withdrawn") {
    m.Title(absl::StrCat("Application withdrawn: ", rotation))
        .Paragraph(absl::StrCat("Your application for ", rotation, " at ", site,
                                " has been withdrawn."));
    AddRotationDetails(m, app);
  } else if (type == "application.expired") {
    m.Title(absl::StrCat("Offer expired: ", rotation))
        .Paragraph(absl::StrCat("The offer for ", rotation, " at ", site,
                                " expired before it was accepted, and the seat has been "
                                "released."));
    AddRotationDetails(m, app);
    m.Detail("Expired at", deadline);
  } else if (type == "application.cancelled") {
    m.Title(absl::StrCat("Placement cancelled: ", rotation))
        .Paragraph(absl::StrCat("Your placement in ", rotation, " at ", site,
                                " has been cancelled."));
    AddRotationDetails(m, app);
    m.Detail("Reason", Quote(app.reason()));
  } else {  // application.completed
    m.Title(absl::StrCat("Rotation completed: ", rotation))
        .Paragraph(absl::StrCat("Congratulations on completing ", rotation, " at ", site,
                                ". It has been added to your US clinical experience record."));
    AddRotationDetails(m, app);
  }
  return m.Build();
}

RenderedMessage RenderDocument(const std::string& type, const DocumentChange& doc,
                               const RecipientInfo& recipient) {
  MessageBuilder m(type, doc.document(), recipient);
  const std::string name = DocumentNameOf(doc);
  if (type == "document.verified") {
    m.Title(absl::StrCat("Document verified: ", name))
        .Paragraph(absl::StrCat(name, " has been checked and verified. It now counts for "
                                      "every rotation that requires it."));
    m.Detail("Document", doc.display_name()).Detail("Valid until", FormatDay(doc.expiry_date()));
    m.Detail("Note", Quote(doc.review_note()));
  } else {
    m.Title(absl::StrCat("Document rejected: ", name))
        .Paragraph(absl::StrCat(name, " could not be verified. Please add a corrected "
                                      "document to your vault."));
    m.Detail("Document", doc.display_name()).Detail("Reason", Quote(doc.review_note()));
  }
  return m.Build();
}

RenderedMessage RenderRoundPublished(const RoundPublished& round, bool matched,
                                     const RecipientInfo& recipient) {
  const std::string name = Or(round.display_name(), "The placement round");
  MessageBuilder m("round.published", round.round(), recipient);
  m.Title(absl::StrCat("Placement results: ", name));
  if (matched) {
    m.Paragraph(absl::StrCat("The results of ", name,
                             " are out and you were matched. Your offer is waiting for you "
                             "in the Clerkship app; accept it before it expires."));
  } else {
    m.Paragraph(absl::StrCat("The results of ", name,
                             " are out. This time you were not matched to a session. "
                             "Seats that open up later are offered through waitlists, and "
                             "new rotations are published all the time."));
  }
  return m.Build();
}

RenderedMessage RenderOfferExpiringReminder(const ApplicationTransitioned& app,
                                            const RecipientInfo& recipient) {
  MessageBuilder m("reminder.offer_expiring", app.application(), recipient);
  const std::string deadline = OfferDeadline(app, recipient);
  m.Title(absl::StrCat("Reminder: your offer for ", RotationOf(app), " expires soon"))
      .Paragraph(absl::StrCat("Your offer for ", RotationOf(app), " at ", SiteOf(app),
                              " expires in about 24 hours. Accept or decline it before then, "
                              "or the seat goes to the next applicant."));
  AddRotationDetails(m, app);
  m.Detail("Accept by", deadline);
  return m.Build();
}

RenderedMessage RenderSessionStartingReminder(const ApplicationTransitioned& app,
                                              const RecipientInfo& recipient) {
  MessageBuilder m("reminder.session_starting", app.application(), recipient);
  m.Title(absl::StrCat(RotationOf(app), " starts in 7 days"))
      .Paragraph(absl::StrCat("Your rotation ", RotationOf(app), " at ", SiteOf(app),
                              " starts on ", FormatDay(app.session_start_date()),
                              ". Check that your documents are up to date and plan your "
                              "arrival."));
  AddRotationDetails(m, app);
  return m.Build();
}

RenderedMessage RenderDocumentExpiringReminder(const DocumentChange& doc,
                                               const RecipientInfo& recipient) {
  MessageBuilder m("reminder.document_expiring", doc.document(), recipient);
  const std::string name = DocumentNameOf(doc);
  m.Title(absl::StrCat("Reminder: ", name, " expires in 30 days"))
      .Paragraph(absl::StrCat(name, " expires on ", FormatDay(doc.expiry_date()),
                              ". Add a renewed document to your vault so that your "
                              "applications are not held up."));
  m.Detail("Document", doc.display_name()).Detail("Expires", FormatDay(doc.expiry_date()));
  return m.Build();
}

std::string FormatDay(const std::string& yyyy_mm_dd) {
  absl::CivilDay day;
  if (yyyy_mm_dd.size() != 10 || !absl::ParseCivilTime(yyyy_mm_dd, &day)) return yyyy_mm_dd;
  return DayString(day);
}

std::string FormatMoment(absl::Time t, absl::TimeZone tz) {
  absl::CivilMinute local = absl::ToCivilMinute(t, tz);
  int hour12 = local.hour() % 12 == 0 ? 12 : local.hour() % 12;
  return absl::StrFormat("%s at %d:%02d %s %s", DayString(absl::CivilDay(local)), hour12,
                         local.minute(), local.hour() < 12 ? "AM" : "PM",
                         absl::FormatTime("%Z", t, tz));
}

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string TruncateUtf8(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  static const std::string kEllipsis = "\xE2\x80\xA6";
  size_t cut = max_bytes >= kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  // Step back over continuation bytes (10xxxxxx) so no character is split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + kEllipsis;
}

}  // namespace clerkship::notification
