#include "tests/services/catalog/generated_catalog.h"

#include <atomic>
#include <functional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "clerkship/catalog/v1/seats.grpc.pb.h"
#include "common/status/status.h"
#include "common/util/ids.h"
#include "tests/support/grpc_test_util.h"

namespace clerkship::catalog {
namespace {

struct Place {
  const char* city;
  const char* state;
  const char* time_zone;
};

// Same city name in several states and spellings, multi-word and non-ASCII names, and time
// zones from Guam to the East Coast.
constexpr Place kPlaces[] = {
    {"Springfield", "IL", "America/Chicago"},  {"Springfield", "MO", "America/Chicago"},
    {"springfield", "MA", "America/New_York"}, {"New York", "NY", "America/New_York"},
    {"Queens", "NY", "America/New_York"},      {"Houston", "TX", "America/Chicago"},
    {"Los Angeles", "CA", "America/Los_Angeles"}, {"Honolulu", "HI", "Pacific/Honolulu"},
    {"Phoenix", "AZ", "America/Phoenix"},      {"Chicago", "IL", "America/Chicago"},
    {"Miami", "FL", "America/New_York"},       {"Boston", "MA", "America/New_York"},
    {"Seattle", "WA", "America/Los_Angeles"},  {"Denver", "CO", "America/Denver"},
    {"Anchorage", "AK", "America/Anchorage"},  {"Hagåtña", "GU", "Pacific/Guam"},
};

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform-enough in [0, n); the same sequence on every platform (unlike distributions).
  int Pick(int n) { return static_cast<int>(engine_() % static_cast<uint64_t>(n)); }
  bool Chance(int one_in) { return Pick(one_in) == 0; }

 private:
  std::mt19937_64 engine_;
};

v1::Rotation GenerateRotation(Rng& rng, int index, const std::string& site) {
  v1::Rotation r;
  r.set_site(site);
  auto specialty = static_cast<type::v1::Specialty>(1 + rng.Pick(29));
  auto experience = static_cast<type::v1::ExperienceType>(1 + rng.Pick(7));
  r.set_specialty(specialty);
  r.set_experience_type(experience);
  r.set_setting(static_cast<type::v1::Setting>(1 + rng.Pick(3)));
  r.set_title(absl::StrCat(type::v1::Specialty_Name(specialty), " ",
                           type::v1::ExperienceType_Name(experience), " #", index));
  bool observing = experience == type::v1::OBSERVERSHIP || experience == type::v1::SHADOWING;
  auto* hands_on = r.mutable_hands_on();
  hands_on->set_patient_contact(!observing && !rng.Chance(3));
  hands_on->set_note_writing(hands_on->patient_contact() && rng.Chance(2));
  hands_on->set_emr_access(rng.Chance(2));
  hands_on->set_students_per_preceptor(rng.Pick(6));
  r.set_duration_weeks(1 + rng.Pick(12));
  // Coarse amounts, so that many rotations tie on the total.
  auto* fees = r.mutable_fees();
  fees->set_program_fee_cents(50000 * rng.Pick(9));
  fees->set_application_fee_cents(5000 * rng.Pick(3));
  fees->set_background_check_cents(rng.Chance(2) ? 5000 : 0);
  fees->set_malpractice_insurance_cents(rng.Chance(2) ? 15000 : 0);
  fees->set_housing_estimate_cents(50000 * rng.Pick(4));
  r.set_refund_policy(static_cast<type::v1::RefundPolicy>(1 + rng.Pick(6)));
  r.set_stipend_cents(rng.Chance(10) ? 100000 : 0);
  r.set_lor_offered(rng.Chance(2));
  auto* e = r.mutable_eligibility();
  if (!rng.Chance(3)) {
    bool taken[10] = {};
    int n = 1 + rng.Pick(4);
    for (int i = 0; i < n; ++i) {
      int visa = 1 + rng.Pick(9);
      if (!taken[visa]) e->add_accepted_visa_statuses(static_cast<type::v1::VisaStatus>(visa));
      taken[visa] = true;
    }
  }
  if (rng.Chance(2)) e->add_allowed_training_stages(type::v1::GRADUATE);
  e->set_step1_pass_required(rng.Chance(2));
  e->set_ecfmg_required(rng.Chance(4));
  r.add_required_documents(type::v1::CV);
  if (rng.Chance(2)) r.add_required_documents(type::v1::PASSPORT);
  r.set_supervising_physician(absl::StrCat("Dr. Preceptor ", index));
  return r;
}

// Runs fn(0..n-1) on `parallel` threads; the first failure wins.
absl::Status ForEach(size_t n, int parallel, const std::function<grpc::Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  std::vector<std::thread> workers;
  for (int w = 0; w < parallel; ++w) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < n; i = next++) {
        grpc::Status s = fn(i);
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = FromGrpcStatus(s);
          return;
        }
      }
    });
  }
  for (auto& t : workers) t.join();
  return first_error;
}

}  // namespace

const v1::Site& GeneratedCatalog::SiteOf(const GeneratedRotation& r) const {
  for (const GeneratedSite& s : sites) {
    if (absl::StrCat("sites/", s.id) == r.rotation.site()) return s.site;
  }
  return sites.front().site;
}

GeneratedCatalog GenerateCatalog(uint64_t seed, int site_count, int rotation_count,
                                 absl::CivilDay today) {
  Rng rng(seed);
  GeneratedCatalog c;
  constexpr int kPlaceCount = sizeof(kPlaces) / sizeof(kPlaces[0]);
  for (int i = 0; i < site_count; ++i) {
    const Place& place = kPlaces[i % kPlaceCount];
    GeneratedSite site;
    site.id = absl::StrFormat("site-%03d", i);
    site.site.set_display_name(absl::StrCat("Teaching Hospital ", i, " of ", place.city));
    site.site.set_city(place.city);
    site.site.set_us_state(place.state);
    site.site.set_time_zone(place.time_zone);
    c.sites.push_back(std::move(site));
  }
  for (int i = 0; i < rotation_count; ++i) {
    GeneratedRotation r;
    r.id = absl::StrFormat("rot-%05d", i);
    r.rotation = GenerateRotation(rng, i, absl::StrCat("sites/", c.sites[rng.Pick(site_count)].id));
    int fate = rng.Pick(10);
    r.fate = fate == 0   ? GeneratedRotation::Fate::kDraft
             : fate == 1 ? GeneratedRotation::Fate::kArchived
                         : GeneratedRotation::Fate::kPublished;
    int sessions = r.fate == GeneratedRotation::Fate::kDraft ? rng.Pick(3) : 1 + rng.Pick(4);
    for (int k = 0; k < sessions; ++k) {
      GeneratedSession s;
      s.id = absl::StrCat("s", k);
      absl::CivilDay start = today + (-30 + rng.Pick(360));
      s.session.set_start_date(absl::FormatCivilTime(start));
      s.session.set_end_date(absl::FormatCivilTime(start + 7 * r.rotation.duration_weeks() - 1));
      s.session.set_application_deadline(absl::FormatCivilTime(start - rng.Pick(35)));
      s.session.set_capacity(1 + rng.Pick(8));
      if (r.fate != GeneratedRotation::Fate::kDraft) {
        if (rng.Chance(4)) {
          s.holds = s.session.capacity();
        } else if (rng.Chance(3)) {
          s.holds = rng.Pick(s.session.capacity());
        }
      }
      r.sessions.push_back(std::move(s));
    }
    c.rotations.push_back(std::move(r));
  }
  return c;
}

absl::Status LoadCatalog(const std::shared_ptr<grpc::Channel>& channel,
                         const GeneratedCatalog& c, absl::Time hold_expiry, int parallel) {
  auto catalog = v1::CatalogService::NewStub(channel);
  auto seats = v1::SeatInventoryService::NewStub(channel);
  using Fate = GeneratedRotation::Fate;

  absl::Status s = ForEach(c.sites.size(), parallel, [&](size_t i) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::CreateSiteRequest request;
    *request.mutable_site() = c.sites[i].site;
    request.set_site_id(c.sites[i].id);
    v1::Site out;
    return catalog->CreateSite(&context, request, &out);
  });
  if (!s.ok()) return s;
  s = ForEach(c.rotations.size(), parallel, [&](size_t i) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::CreateRotationRequest request;
    *request.mutable_rotation() = c.rotations[i].rotation;
    request.set_rotation_id(c.rotations[i].id);
    v1::Rotation out;
    return catalog->CreateRotation(&context, request, &out);
  });
  if (!s.ok()) return s;

  struct SessionRef {
    const GeneratedRotation* rotation;
    const GeneratedSession* session;
  };
  std::vector<SessionRef> sessions;
  std::vector<std::string> holders, held_sessions;
  for (const GeneratedRotation& r : c.rotations) {
    for (const GeneratedSession& gs : r.sessions) {
      sessions.push_back({&r, &gs});
      for (int k = 0; k < gs.holds; ++k) {
        held_sessions.push_back(absl::StrCat("rotations/", r.id, "/sessions/", gs.id));
        holders.push_back(absl::StrCat("applications/", r.id, "-", gs.id, "-", k));
      }
    }
  }
  s = ForEach(sessions.size(), parallel, [&](size_t i) {
    grpc::ClientContext context;
    testing::AsAdmin(&context);
    v1::CreateSessionRequest request;
    request.set_parent(absl::StrCat("rotations/", sessions[i].rotation->id));
    *request.mutable_session() = sessions[i].session->session;
    request.set_session_id(sessions[i].session->id);
    v1::Session out;
    return catalog->CreateSession(&context, request, &out);
  });
  if (!s.ok()) return s;
  auto transition = [&](Fate which, bool archive) {
    return ForEach(c.rotations.size(), parallel, [&](size_t i) {
      const GeneratedRotation& r = c.rotations[i];
      if (r.fate == Fate::kDraft || (archive && r.fate != which)) return grpc::Status::OK;
      grpc::ClientContext context;
      testing::AsAdmin(&context);
      v1::Rotation out;
      if (archive) {
        v1::ArchiveRotationRequest request;
        request.set_name(absl::StrCat("rotations/", r.id));
        return catalog->ArchiveRotation(&context, request, &out);
      }
      v1::PublishRotationRequest request;
      request.set_name(absl::StrCat("rotations/", r.id));
      return catalog->PublishRotation(&context, request, &out);
    });
  };
  if (s = transition(Fate::kPublished, false); !s.ok()) return s;
  s = ForEach(holders.size(), parallel, [&](size_t i) {
    grpc::ClientContext context;
    testing::AsService(&context);
    v1::HoldSeatRequest request;
    request.set_session(held_sessions[i]);
    request.set_holder(holders[i]);
    *request.mutable_expire_time() = ToProtoTime(hold_expiry);
    v1::SeatHold out;
    return seats->HoldSeat(&context, request, &out);
  });
  if (!s.ok()) return s;
  return transition(Fate::kArchived, true);
}

}  // namespace clerkship::catalog
