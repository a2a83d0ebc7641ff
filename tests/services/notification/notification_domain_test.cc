// The notification service's plain domain code: templates, quiet hours, settings rules,
// webhook signatures and e-mail messages.

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "common/status/status.h"
#include "common/util/ids.h"
#include "services/notification/email_message.h"
#include "services/notification/event_processor.h"
#include "services/notification/quiet_hours.h"
#include "services/notification/settings_rules.h"
#include "services/notification/templates.h"
#include "services/notification/webhook_signature.h"

namespace clerkship::notification {
namespace {

using clerkship::events::v1::ApplicationTransitioned;
using clerkship::events::v1::Event;

absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(name, &tz)) << name;
  return tz;
}

Event OfferEvent(const std::string& actor, const std::string& from, const std::string& round) {
  Event e;
  e.set_id("6f1c2d9e-0000-4000-8000-000000000001");
  e.set_type("application.offered");
  e.set_actor(actor);
  ApplicationTransitioned* a = e.mutable_application_transitioned();
  a->set_application("applications/app1");
  a->set_applicant("applicants/amina");
  a->set_from_state(from);
  a->set_to_state("OFFERED");
  a->set_round(round);
  a->set_rotation_title("Internal Medicine Clerkship");
  a->set_site_display_name("Mercy General Hospital");
  a->set_site_time_zone("America/New_York");
  a->set_session_start_date("2027-03-01");
  a->set_session_end_date("2027-03-26");
  *a->mutable_offer_expire_time() = ToProtoTime(absl::FromCivil(absl::CivilMinute(2027, 1, 20, 22, 0), absl::UTCTimeZone()));
  return e;
}

TEST(TemplatesTest, OfferShowsDatesAndDeadlineInTheRecipientsZone) {
  Event e = OfferEvent("coordinators/7", "SUBMITTED", "");
  ASSERT_EQ(ApplicationNotificationType(e), "application.offered");
  RenderedMessage m = RenderApplication("application.offered", e.application_transitioned(),
                                        {"Amina", Zone("Asia/Kolkata")});
  EXPECT_EQ(m.title, "Offer: Internal Medicine Clerkship at Mercy General Hospital");
  EXPECT_EQ(m.subject, "applications/app1");
  EXPECT_TRUE(absl::StartsWith(m.body, "Hi Amina,")) << m.body;
  EXPECT_TRUE(absl::StrContains(m.body, "Dates: Mon, Mar 1, 2027 to Fri, Mar 26, 2027")) << m.body;
  // 22:00 UTC is 03:30 the next morning in India.
  EXPECT_TRUE(absl::StrContains(m.body, "Accept by: Thu, Jan 21, 2027 at 3:30 AM IST")) << m.body;
  EXPECT_TRUE(absl::StrContains(m.html_body, "<td>Thu, Jan 21, 2027 at 3:30 AM IST</td>"));

  // The same offer for someone in New York.
  RenderedMessage ny = RenderApplication("application.offered", e.application_transitioned(),
                                         {"", Zone("America/New_York")});
  EXPECT_TRUE(absl::StartsWith(ny.body, "Hello,")) << ny.body;
  EXPECT_TRUE(absl::StrContains(ny.body, "Wed, Jan 20, 2027 at 5:00 PM EST")) << ny.body;
}

TEST(TemplatesTest, OffersFromTheWaitlistAndFromRoundsAreToldApart) {
  EXPECT_EQ(ApplicationNotificationType(OfferEvent("services/matching", "WAITLISTED", "")),
            "application.promoted");
  EXPECT_EQ(ApplicationNotificationType(OfferEvent("services/matching", "STATE_UNSPECIFIED",
                                                   "rounds/spring")),
            "application.offered");
  RenderedMessage m = RenderApplication(
      "application.promoted", OfferEvent("services/matching", "WAITLISTED", "").application_transitioned(),
      {"Amina", absl::UTCTimeZone()});
  EXPECT_TRUE(absl::StrContains(m.title, "A seat opened up")) << m.title;
  EXPECT_TRUE(absl::StrContains(m.body, "waitlist")) << m.body;

  Event unknown = OfferEvent("coordinators/7", "SUBMITTED", "");
  unknown.mutable_application_transitioned()->set_to_state("TELEPORTED");
  EXPECT_EQ(ApplicationNotificationType(unknown), "");
}

TEST(TemplatesTest, EveryApplicationStateHasItsOwnText) {
  Event e = OfferEvent("coordinators/7", "SUBMITTED", "");
  std::set<std::string> titles;
  for (const char* type : {"application.submitted", "application.offered", "application.promoted",
                           "application.waitlisted", "application.rejected", "application.accepted",
                           "application.declined", "application.withdrawn", "application.expired",
                           "application.cancelled", "application.completed"}) {
    RenderedMessage m = RenderApplication(type, e.application_transitioned(), {"A", absl::UTCTimeZone()});
    EXPECT_EQ(m.type, type);
    EXPECT_FALSE(m.title.empty());
    EXPECT_LE(m.title.size(), 200u);
    EXPECT_TRUE(absl::StrContains(m.body, "Internal Medicine Clerkship")) << type;
    titles.insert(m.title);
  }
  EXPECT_EQ(titles.size(), 11u);
}

TEST(TemplatesTest, HtmlEscapesEverythingInterpolatedAndTitlesStayBounded) {
  ApplicationTransitioned a = OfferEvent("coordinators/7", "SUBMITTED", "").application_transitioned();
  a.set_rotation_title("<script>alert('x')</script> & Co " + std::string(300, 'x'));
  a.set_reason("bad \"fit\" <b>");
  RenderedMessage m = RenderApplication("application.rejected", a, {"<Amina>", absl::UTCTimeZone()});
  EXPECT_FALSE(absl::StrContains(m.html_body, "<script>"));
  EXPECT_TRUE(absl::StrContains(m.html_body, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co"));
  EXPECT_TRUE(absl::StrContains(m.html_body, "Hi &lt;Amina&gt;,"));
  EXPECT_TRUE(absl::StrContains(m.html_body, "bad &quot;fit&quot; &lt;b&gt;"));
  EXPECT_LE(m.title.size(), 200u);
  EXPECT_TRUE(absl::EndsWith(m.title, "\xE2\x80\xA6"));
}

TEST(TemplatesTest, TruncationNeverSplitsACharacter) {
  std::string s = "ab\xC3\xA9\xC3\xA9\xC3\xA9";  // "abééé"
  std::string cut = TruncateUtf8(s, 6);          // room for "ab" + "é"? no: 6 - 3 = 3 bytes
  EXPECT_EQ(cut, "ab\xE2\x80\xA6");
  EXPECT_EQ(TruncateUtf8("short", 200), "short");
}

TEST(TemplatesTest, RemindersDocumentsAndRounds) {
  Event e = OfferEvent("coordinators/7", "SUBMITTED", "");
  RenderedMessage offer = RenderOfferExpiringReminder(e.application_transitioned(), {"A", Zone("America/New_York")});
  EXPECT_EQ(offer.type, "reminder.offer_expiring");
  EXPECT_TRUE(absl::StrContains(offer.body, "Wed, Jan 20, 2027 at 5:00 PM EST")) << offer.body;
  RenderedMessage start = RenderSessionStartingReminder(e.application_transitioned(), {"A", absl::UTCTimeZone()});
  EXPECT_EQ(start.type, "reminder.session_starting");
  EXPECT_TRUE(absl::StrContains(start.body, "starts on Mon, Mar 1, 2027")) << start.body;

  clerkship::events::v1::DocumentChange doc;
  doc.set_applicant("applicants/amina");
  doc.set_document("applicants/amina/documents/d1");
  doc.set_display_name("TB test 2026");
  doc.set_expiry_date("2027-02-28");
  doc.set_review_note("The date is unreadable");
  RenderedMessage rejected = RenderDocument("document.rejected", doc, {"A", absl::UTCTimeZone()});
  EXPECT_EQ(rejected.title, "Document rejected: TB test 2026");
  EXPECT_TRUE(absl::StrContains(rejected.body, "Reason: The date is unreadable"));
  RenderedMessage expiring = RenderDocumentExpiringReminder(doc, {"A", absl::UTCTimeZone()});
  EXPECT_TRUE(absl::StrContains(expiring.body, "expires on Sun, Feb 28, 2027")) << expiring.body;

  clerkship::events::v1::RoundPublished round;
  round.set_round("rounds/spring");
  round.set_display_name("Spring 2027");
  EXPECT_TRUE(absl::StrContains(RenderRoundPublished(round, true, {"A", absl::UTCTimeZone()}).body,
                                "you were matched"));
  EXPECT_TRUE(absl::StrContains(RenderRoundPublished(round, false, {"A", absl::UTCTimeZone()}).body,
                                "not matched"));
}

TEST(QuietHoursTest, ParsesClockTimesStrictly) {
  EXPECT_EQ(ParseClockTime("00:00"), 0);
  EXPECT_EQ(ParseClockTime("23:59"), 23 * 60 + 59);
  for (const char* bad : {"24:00", "7:00", "07:60", "0700", "07:00 ", "ab:cd", ""}) {
    EXPECT_FALSE(ParseClockTime(bad).has_value()) << bad;
  }
  EXPECT_FALSE(ParseQuietHours("22:00", "22:00").has_value());
}

TEST(QuietHoursTest, WindowThatWrapsMidnight) {
  QuietHours q = *ParseQuietHours("22:00", "07:00");
  absl::TimeZone ny = Zone("America/New_York");
  auto at = [&](int d, int h, int m) { return absl::FromCivil(absl::CivilMinute(2027, 1, d, h, m), ny); };
  EXPECT_EQ(QuietHoursEnd(q, at(15, 23, 0), ny), at(16, 7, 0));
  EXPECT_EQ(QuietHoursEnd(q, at(16, 3, 0), ny), at(16, 7, 0));
  EXPECT_EQ(QuietHoursEnd(q, at(15, 22, 0), ny), at(16, 7, 0));  // start is inclusive
  EXPECT_FALSE(QuietHoursEnd(q, at(16, 7, 0), ny).has_value());   // end is exclusive
  EXPECT_FALSE(QuietHoursEnd(q, at(16, 12, 0), ny).has_value());
}

TEST(QuietHoursTest, DaytimeWindowAndDaylightSavingChange) {
  QuietHours day = *ParseQuietHours("09:00", "17:00");
  absl::TimeZone utc = absl::UTCTimeZone();
  absl::Time noon = absl::FromCivil(absl::CivilMinute(2027, 1, 15, 12, 0), utc);
  EXPECT_EQ(QuietHoursEnd(day, noon, utc), absl::FromCivil(absl::CivilMinute(2027, 1, 15, 17, 0), utc));
  EXPECT_FALSE(QuietHoursEnd(day, noon + absl::Hours(6), utc).has_value());

  // 02:30 does not exist in New York on 2027-03-14: the window still ends, just after the jump.
  QuietHours night = *ParseQuietHours("22:00", "02:30");
  absl::TimeZone ny = Zone("America/New_York");
  absl::Time t = absl::FromCivil(absl::CivilMinute(2027, 3, 14, 6, 30), utc);  // 01:30 EST
  std::optional<absl::Time> end = QuietHoursEnd(night, t, ny);
  ASSERT_TRUE(end.has_value());
  EXPECT_GE(*end, absl::FromCivil(absl::CivilMinute(2027, 3, 14, 7, 0), utc));
  EXPECT_LE(*end, absl::FromCivil(absl::CivilMinute(2027, 3, 14, 7, 30), utc));
}

TEST(QuietHoursTest, TimeZoneNamesAreCheckedBeforeLoading) {
  absl::TimeZone tz;
  EXPECT_TRUE(LoadTimeZoneByName("America/Argentina/Buenos_Aires", &tz));
  EXPECT_TRUE(LoadTimeZoneByName("UTC", &tz));
  for (const char* bad : {"", "../../etc/passwd", "/etc/localtime", "Mars/Olympus", "America/New York"}) {
    EXPECT_FALSE(LoadTimeZoneByName(bad, &tz)) << bad;
  }
}

v1::UpdateNotificationSettingsRequest Update(std::vector<std::string> paths) {
  v1::UpdateNotificationSettingsRequest r;
  r.mutable_notification_settings()->set_name("applicants/amina/notificationSettings");
  for (auto& p : paths) r.mutable_update_mask()->add_paths(p);
  return r;
}

std::set<std::string> Fields(const absl::Status& s) {
  std::set<std::string> out;
  for (const auto& v : FieldViolationsOf(s)) out.insert(v.field);
  return out;
}

TEST(SettingsRulesTest, MaskSelectsFieldsAndUnsetMaskTakesWhatIsSet) {
  v1::NotificationSettings stored = DefaultSettings("amina");
  v1::UpdateNotificationSettingsRequest r = Update({"time_zone"});
  r.mutable_notification_settings()->set_time_zone("Asia/Kolkata");
  r.mutable_notification_settings()->set_email_address("ignored@example.org");
  auto merged = ApplySettingsUpdate(stored, r, {});
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->time_zone(), "Asia/Kolkata");
  EXPECT_EQ(merged->email_address(), "");  // not in the mask
  EXPECT_TRUE(merged->email_enabled());

  r.clear_update_mask();
  merged = ApplySettingsUpdate(stored, r, {});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->email_address(), "ignored@example.org");
  // email_enabled=false is the default value, so an empty mask cannot turn e-mail off ...
  EXPECT_TRUE(merged->email_enabled());
  // ... naming it can.
  merged = ApplySettingsUpdate(stored, Update({"email_enabled"}), {});
  ASSERT_TRUE(merged.ok());
  EXPECT_FALSE(merged->email_enabled());
}

TEST(SettingsRulesTest, EveryBadFieldIsNamed) {
  v1::UpdateNotificationSettingsRequest r = Update({"email_address", "webhook_url", "webhook_secret",
                                                    "time_zone", "quiet_hours_start", "etag"});
  auto* s = r.mutable_notification_settings();
  s->set_email_address("not-an-address");
  s->set_webhook_url("http://hooks.example.org/x");
  s->set_webhook_secret("short");
  s->set_time_zone("Mars/Olympus");
  s->set_quiet_hours_start("25:00");
  absl::Status st = ApplySettingsUpdate(DefaultSettings("amina"), r, {}).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Fields(st), (std::set<std::string>{
                            "notification_settings.email_address", "notification_settings.webhook_url",
                            "notification_settings.webhook_secret", "notification_settings.time_zone",
                            "notification_settings.quiet_hours_start", "update_mask.paths"}));
  // The same http:// URL is fine where the service allows it.
  v1::UpdateNotificationSettingsRequest ok = Update({"webhook_url"});
  ok.mutable_notification_settings()->set_webhook_url("http://127.0.0.1:8080/hook");
  EXPECT_TRUE(ApplySettingsUpdate(DefaultSettings("amina"), ok, {true}).ok());
  EXPECT_FALSE(IsAcceptableWebhookUrl("https://user:pw@hooks.example.org/", false));
  EXPECT_FALSE(IsAcceptableWebhookUrl("https:///nohost", false));
  EXPECT_TRUE(IsAcceptableWebhookUrl("https://hooks.example.org:8443/a?b=c", false));
}

TEST(SettingsRulesTest, CrossFieldRules) {
  v1::UpdateNotificationSettingsRequest r = Update({"webhook_enabled"});
  r.mutable_notification_settings()->set_webhook_enabled(true);
  EXPECT_EQ(Fields(ApplySettingsUpdate(DefaultSettings("amina"), r, {}).status()),
            (std::set<std::string>{"notification_settings.webhook_url",
                                   "notification_settings.webhook_secret"}));

  v1::UpdateNotificationSettingsRequest quiet = Update({"quiet_hours_start"});
  quiet.mutable_notification_settings()->set_quiet_hours_start("22:00");
  EXPECT_EQ(Fields(ApplySettingsUpdate(DefaultSettings("amina"), quiet, {}).status()),
            (std::set<std::string>{"notification_settings.quiet_hours_end"}));

  // A stored secret satisfies the webhook; "*" without a secret keeps it (it is input
  // only and cannot have been read back); naming the field with an empty value clears it.
  v1::NotificationSettings stored = DefaultSettings("amina");
  stored.set_webhook_secret("0123456789abcdef");
  stored.set_webhook_url("https://hooks.example.org/a");
  v1::UpdateNotificationSettingsRequest all = Update({"*"});
  all.mutable_notification_settings()->set_webhook_enabled(true);
  all.mutable_notification_settings()->set_webhook_url("https://hooks.example.org/b");
  all.mutable_notification_settings()->set_email_enabled(true);
  auto merged = ApplySettingsUpdate(stored, all, {});
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(merged->webhook_secret(), "0123456789abcdef");
  v1::UpdateNotificationSettingsRequest clear = Update({"webhook_secret"});
  merged = ApplySettingsUpdate(stored, clear, {});
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged->webhook_secret(), "");

  v1::NotificationSettings shown = PublicSettings(stored);
  EXPECT_EQ(shown.webhook_secret(), "");
  EXPECT_TRUE(shown.webhook_secret_set());
}

TEST(SignatureTest, MatchesRfc4231AndTheDocumentedHeaderFormat) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Computed independently (Python hmac) over "<timestamp>.<body>".
  EXPECT_EQ(WebhookSignature("whsec-test-0123456789", 1700000000, "{\"a\":1}"),
            "sha256=ba8ec7f38c4e076a99176a1bf98ae9f2f3f4e18412b46a5913ddcf5685932c6a");
}

TEST(EmailMessageTest, MultipartWithEncodedSubjectAndNoHeaderInjection) {
  EmailContent email;
  email.from = "Clerkship <no-reply@clerkship.example>";
  email.to = "amina@example.org";
  email.subject = "Offre acceptée\r\nBcc: evil@example.org";
  email.text_body = "Hi Amina,\r\n.\r\nline after a dot";
  email.html_body = "<p>Hi</p>";
  email.message_id = "n1.amina@clerkship.notification";
  email.date = absl::FromUnixSeconds(1767225600);
  std::string m = BuildEmailMessage(email);
  EXPECT_TRUE(absl::StrContains(m, "Subject: =?UTF-8?B?"));
  EXPECT_FALSE(absl::StrContains(m, "\r\nBcc:"));
  EXPECT_TRUE(absl::StrContains(m, "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"));
  EXPECT_TRUE(absl::StrContains(m, "Content-Type: multipart/alternative; boundary="));
  EXPECT_TRUE(absl::StrContains(m, absl::Base64Escape("<p>Hi</p>")));
  EXPECT_EQ(BareAddress(email.from), "no-reply@clerkship.example");
}

TEST(DeliveryPlanTest, ChannelsFollowTheSettings) {
  v1::Notification n;
  n.set_name("applicants/amina/notifications/1767225600000-0000abcd");
  n.set_recipient("applicants/amina");
  v1::NotificationSettings s = DefaultSettings("amina");
  auto plan = PlanDeliveries(n, s, true, true, absl::FromUnixSeconds(1));
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].name(), n.name() + "/deliveries/email");
  EXPECT_EQ(plan[0].state(), v1::Delivery::PENDING);
  EXPECT_TRUE(PlanDeliveries(n, s, false, true, absl::FromUnixSeconds(1)).empty());  // no SMTP
  EXPECT_TRUE(PlanDeliveries(n, s, true, false, absl::FromUnixSeconds(1)).empty());  // no address
  s.set_webhook_enabled(true);
  s.set_webhook_url("https://hooks.example.org/a");
  s.set_email_enabled(false);
  plan = PlanDeliveries(n, s, true, true, absl::FromUnixSeconds(1));
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].channel(), v1::Delivery::WEBHOOK);
}

}  // namespace
}  // namespace clerkship::notification
