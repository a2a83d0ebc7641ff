#pragma once

// Building and publishing events the way the applicant, catalog and matching services do.

#include <string>

#include "absl/time/time.h"
#include "clerkship/events/v1/events.pb.h"
#include "common/events/events.h"
#include "common/redis/redis_client.h"
#include "common/util/ids.h"

namespace clerkship::notification::testing {

struct OfferSpec {
  std::string applicant = "amina";
  std::string application = "app1";
  std::string to_state = "OFFERED";
  std::string from_state = "SUBMITTED";
  std::string actor = "coordinators/7";
  absl::Time offer_expires = absl::InfinitePast();  // unset
  std::string start_date = "2027-03-01";
  std::string end_date = "2027-03-26";
};

inline clerkship::events::v1::Event ApplicationEvent(const OfferSpec& spec) {
  std::string state = spec.to_state;
  for (char& c : state) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  clerkship::events::v1::Event e = events::NewEvent(
      "applicant", "application." + state, "applications/" + spec.application, spec.actor);
  auto* a = e.mutable_application_transitioned();
  a->set_application("applications/" + spec.application);
  a->set_applicant("applicants/" + spec.applicant);
  a->set_session("rotations/im/sessions/march");
  a->set_rotation("rotations/im");
  a->set_site("sites/mercy");
  a->set_from_state(spec.from_state);
  a->set_to_state(spec.to_state);
  a->set_rotation_title("Internal Medicine Clerkship");
  a->set_site_display_name("Mercy General Hospital");
  a->set_site_time_zone("America/New_York");
  a->set_session_start_date(spec.start_date);
  a->set_session_end_date(spec.end_date);
  if (spec.offer_expires != absl::InfinitePast()) {
    *a->mutable_offer_expire_time() = ToProtoTime(spec.offer_expires);
  }
  return e;
}

// XADD like a producer: inside a Lua script with events::kLuaPublish.
inline std::string Publish(redis::Client* redis, const std::string& stream,
                           const std::string& type, const std::string& payload) {
  static const redis::Script kPublish(std::string(events::kLuaPublish) + R"lua(
return publish_event(KEYS[1], ARGV[1], ARGV[2])
)lua");
  auto r = redis->EvalSync(kPublish, {stream}, {type, payload});
  return r.ok() && !r->is_error() ? r->str : "";
}

inline std::string Publish(redis::Client* redis, const std::string& stream,
                           const clerkship::events::v1::Event& e) {
  return Publish(redis, stream, e.type(), e.SerializeAsString());
}

}  // namespace clerkship::notification::testing
