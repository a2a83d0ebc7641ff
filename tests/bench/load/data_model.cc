#include "tests/bench/load/data_model.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace clerkship::bench {
namespace {

namespace tv = ::clerkship::type::v1;

struct Place {
  const char* state;
  const char* city;
  const char* time_zone;
};

constexpr Place kPlaces[] = {
    {"NY", "Queens", "America/New_York"},       {"NY", "Brooklyn", "America/New_York"},
    {"NJ", "Newark", "America/New_York"},       {"PA", "Philadelphia", "America/New_York"},
    {"IL", "Chicago", "America/Chicago"},       {"TX", "Houston", "America/Chicago"},
    {"TX", "Dallas", "America/Chicago"},        {"FL", "Miami", "America/New_York"},
    {"FL", "Tampa", "America/New_York"},        {"CA", "Los Angeles", "America/Los_Angeles"},
    {"CA", "Fresno", "America/Los_Angeles"},    {"GA", "Atlanta", "America/New_York"},
    {"MI", "Detroit", "America/Detroit"},       {"OH", "Cleveland", "America/New_York"},
    {"MD", "Baltimore", "America/New_York"},    {"AZ", "Phoenix", "America/Phoenix"},
    {"WA", "Seattle", "America/Los_Angeles"},   {"MA", "Boston", "America/New_York"},
    {"NC", "Charlotte", "America/New_York"},    {"CO", "Denver", "America/Denver"},
};
constexpr int kPlaceCount = sizeof(kPlaces) / sizeof(kPlaces[0]);

constexpr int kSpecialties = 29;  // INTERNAL_MEDICINE (1) .. ALLERGY_IMMUNOLOGY (29)

tv::Specialty SpecialtyOf(uint64_t h) {
  // Primary care is offered (and asked for) far more often than the rest.
  uint64_t x = h % 100;
  if (x < 20) return tv::INTERNAL_MEDICINE;
  if (x < 32) return tv::FAMILY_MEDICINE;
  if (x < 40) return tv::PEDIATRICS;
  if (x < 46) return tv::PSYCHIATRY;
  return static_cast<tv::Specialty>(1 + (h / 100) % kSpecialties);
}

// Observerships and shadowing may not claim patient contact or note writing.
tv::ExperienceType TypeOf(int rotation) {
  static constexpr tv::ExperienceType kCycle[10] = {
      tv::CLINICAL_ROTATION, tv::OBSERVERSHIP, tv::ELECTIVE,   tv::EXTERNSHIP,
      tv::CLINICAL_ROTATION, tv::SHADOWING,    tv::RESEARCH,   tv::CLINICAL_ROTATION,
      tv::OBSERVERSHIP,      tv::TELEHEALTH};
  return kCycle[(rotation / 10 + rotation) % 10];
}

}  // namespace

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string SiteId(const DataSpec& d, int site) {
  return absl::StrFormat("%s-s-%04d", d.prefix, site);
}
std::string RotationId(const DataSpec& d, int rotation) {
  return absl::StrFormat("%s-r-%05d", d.prefix, rotation);
}
std::string RotationName(const DataSpec& d, int rotation) {
  return absl::StrCat("rotations/", RotationId(d, rotation));
}
std::string SessionId(int session) { return absl::StrCat("s", session + 1); }
std::string SessionName(const DataSpec& d, int rotation, int session) {
  return absl::StrCat(RotationName(d, rotation), "/sessions/", SessionId(session));
}
std::string ApplicantId(const DataSpec& d, int applicant) {
  return absl::StrFormat("%s-a-%06d", d.prefix, applicant);
}
std::string ApplicantName(const DataSpec& d, int applicant) {
  return absl::StrCat("applicants/", ApplicantId(d, applicant));
}

int EligibleRotation(const DataSpec& d, uint64_t q) {
  q %= static_cast<uint64_t>(d.eligible_rotations());
  // Rotations 10k+1 .. 10k+9 are eligible: nine per ten.
  return static_cast<int>((q / 9) * 10 + 1 + q % 9);
}

ApplicationTarget NthApplication(const DataSpec& d, uint64_t n, uint64_t offset) {
  uint64_t applicants = static_cast<uint64_t>(d.applicants);
  uint64_t sessions =
      static_cast<uint64_t>(d.eligible_rotations()) * static_cast<uint64_t>(d.sessions_per_rotation);
  uint64_t a = n % applicants;
  uint64_t round = n / applicants + offset;
  // For a fixed applicant, `round` → session is one-to-one while round < sessions.
  uint64_t s = (a * 7919 + round) % sessions;
  ApplicationTarget t;
  t.applicant = static_cast<int>(a);
  t.rotation = EligibleRotation(d, s / static_cast<uint64_t>(d.sessions_per_rotation));
  t.session = static_cast<int>(s % static_cast<uint64_t>(d.sessions_per_rotation));
  return t;
}

catalog::v1::Site MakeSite(const DataSpec& d, int site) {
  const Place& p = kPlaces[site % kPlaceCount];
  catalog::v1::Site s;
  s.set_display_name(absl::StrFormat("Bench Medical Center %d — %s", site, p.city));
  s.set_organization("Bench Health System");
  s.set_city(p.city);
  s.set_us_state(p.state);
  s.set_address(absl::StrFormat("%d Main St, %s, %s", 100 + site, p.city, p.state));
  s.set_time_zone(p.time_zone);
  s.set_website(absl::StrFormat("https://%s.example.org", SiteId(d, site)));
  s.set_coordinator_email(absl::StrFormat("coordinator@%s.example.org", SiteId(d, site)));
  return s;
}

catalog::v1::Rotation MakeRotation(const DataSpec& d, int rotation) {
  uint64_t h = Mix(static_cast<uint64_t>(rotation) * 31 + 7);
  tv::ExperienceType type = TypeOf(rotation);
  bool observing = type == tv::OBSERVERSHIP || type == tv::SHADOWING;
  catalog::v1::Rotation r;
  r.set_site(absl::StrCat("sites/", SiteId(d, rotation % d.sites())));
  tv::Specialty specialty = SpecialtyOf(h);
  r.set_specialty(specialty);
  r.set_experience_type(type);
  r.set_setting(type == tv::TELEHEALTH ? tv::OUTPATIENT
                                       : static_cast<tv::Setting>(1 + (h >> 8) % 3));
  r.set_title(absl::StrFormat("%s %s %d",
                              tv::Specialty_Name(specialty), tv::ExperienceType_Name(type),
                              rotation));
  r.set_description(
      "Bench rotation: rounds with the attending team, case presentations, teaching "
      "conferences and supervised patient care appropriate to the experience type.");
  auto* hands_on = r.mutable_hands_on();
  hands_on->set_patient_contact(!observing && ((h >> 12) % 4 != 0));
  hands_on->set_emr_access(!observing && ((h >> 14) % 2 == 0));
  hands_on->set_note_writing(!observing && hands_on->patient_contact() && ((h >> 16) % 3 != 0));
  hands_on->set_students_per_preceptor(1 + static_cast<int>((h >> 18) % 4));
  int weeks = observing ? 2 : 4;
  r.set_duration_weeks(weeks);
  auto* fees = r.mutable_fees();
  fees->set_program_fee_cents(100000 + 25000 * static_cast<int64_t>((h >> 20) % 16));
  fees->set_application_fee_cents(5000 * static_cast<int64_t>((h >> 24) % 4));
  fees->set_background_check_cents(observing ? 0 : 4500);
  fees->set_malpractice_insurance_cents(hands_on->patient_contact() ? 15000 : 0);
  fees->set_housing_estimate_cents(type == tv::TELEHEALTH ? 0 : 40000 * weeks);
  r.set_refund_policy(static_cast<tv::RefundPolicy>(1 + (h >> 26) % 6));
  r.set_lor_offered((h >> 29) % 10 < 7);
  auto* e = r.mutable_eligibility();
  if (rotation % 10 == 0) e->add_allowed_training_stages(tv::STUDENT);
  e->set_step1_pass_required((h >> 32) % 3 == 0);
  e->set_ecfmg_required((h >> 34) % 4 == 0);
  if ((h >> 36) % 3 == 0) {
    for (auto v : {tv::US_CITIZEN, tv::PERMANENT_RESIDENT, tv::J1, tv::H1B}) {
      e->add_accepted_visa_statuses(v);
    }
  }
  r.add_required_documents(tv::CV);
  r.add_required_documents(tv::PASSPORT);
  r.set_supervising_physician(absl::StrFormat("Dr. Bench Attending %d, MD", rotation % 997));
  return r;
}

catalog::v1::Session MakeSession(const DataSpec& d, int rotation, int session) {
  uint64_t h = Mix(static_cast<uint64_t>(rotation) * 131 + static_cast<uint64_t>(session));
  // Sessions start 5-45 weeks ahead, spread over the year; applications close a week before.
  absl::CivilDay start = d.today + 35 + 7 * static_cast<int>((h + session * 13) % 40);
  int weeks = TypeOf(rotation) == tv::OBSERVERSHIP || TypeOf(rotation) == tv::SHADOWING ? 2 : 4;
  catalog::v1::Session s;
  s.set_start_date(absl::FormatCivilTime(start));
  s.set_end_date(absl::FormatCivilTime(start + 7 * weeks - 3));
  s.set_application_deadline(absl::FormatCivilTime(start - 7));
  s.set_capacity(d.session_capacity);
  return s;
}

applicant::v1::Applicant MakeApplicant(const DataSpec& d, int applicant) {
  uint64_t h = Mix(static_cast<uint64_t>(applicant) * 17 + 3);
  applicant::v1::Applicant a;
  a.set_given_name("Bench");
  a.set_family_name(absl::StrCat("Applicant ", applicant));
  a.set_email(absl::StrFormat("%s@bench.example.org", ApplicantId(d, applicant)));
  a.set_training_stage(tv::GRADUATE);
  a.set_medical_school("Bench University Faculty of Medicine");
  static constexpr const char* kCountries[] = {"IN", "PK", "NG", "EG", "PH", "BR", "MX", "IR"};
  a.set_school_country(kCountries[h % 8]);
  a.set_graduation_year(static_cast<int>(d.today.year()) - 1 - static_cast<int>((h >> 4) % 4));
  a.set_step1_status(tv::STEP1_PASSED);
  a.set_step2ck_score(225 + static_cast<int>((h >> 8) % 40));
  a.set_ecfmg_certified(true);
  a.set_visa_status(tv::J1);
  tv::Specialty first = SpecialtyOf(h >> 12);
  a.add_specialty_interests(first);
  for (int k = 1; a.specialty_interests_size() < 3 && k < 10; ++k) {
    tv::Specialty s = static_cast<tv::Specialty>(1 + (Mix(h + k) % kSpecialties));
    bool seen = false;
    for (int x : a.specialty_interests()) seen |= x == s;
    if (!seen) a.add_specialty_interests(s);
  }
  for (int k = 0; k < 3; ++k) {
    const char* state = kPlaces[(h >> (20 + 4 * k)) % kPlaceCount].state;
    bool seen = false;
    for (const std::string& x : a.preferred_states()) seen |= x == state;
    if (!seen) a.add_preferred_states(state);
  }
  auto* range = a.add_availability();
  range->set_start_date(absl::FormatCivilTime(d.today));
  range->set_end_date(absl::FormatCivilTime(d.today + 365));
  a.set_budget_cents(400000 + 50000 * static_cast<int64_t>((h >> 40) % 12));
  a.set_prefers_hands_on((h >> 44) % 3 != 0);
  a.set_time_zone("America/New_York");
  return a;
}

applicant::v1::Document MakeDocument(const DataSpec& d, int applicant, int which) {
  applicant::v1::Document doc;
  doc.set_kind(which == 0 ? tv::CV : tv::PASSPORT);
  doc.set_display_name(which == 0 ? "Curriculum vitae" : "Passport identity page");
  doc.set_uri(absl::StrFormat("https://files.bench.example.org/%s/%d.pdf",
                              ApplicantId(d, applicant), which));
  doc.set_sha256(absl::StrFormat("%016x%016x%016x%016x", Mix(applicant * 2 + which),
                                 Mix(applicant * 2 + which + 1), Mix(applicant + 77),
                                 Mix(which + 99)));
  doc.set_issue_date(absl::FormatCivilTime(d.today - 200));
  return doc;
}

catalog::v1::SearchRotationsRequest MakeSearch(const DataSpec& d, uint64_t seq, int shape) {
  uint64_t h = Mix(seq);
  catalog::v1::SearchRotationsRequest r;
  r.set_page_size(20);
  const Place& place = kPlaces[(h >> 8) % kPlaceCount];
  switch (shape >= 0 ? shape % kSearchShapes : static_cast<int>(seq % kSearchShapes)) {
    case 0:  // what a first visit looks like: one specialty
      r.set_specialty(SpecialtyOf(h));
      break;
    case 1:
      r.set_specialty(SpecialtyOf(h));
      r.set_has_seats(true);
      break;
    case 2:
      r.set_us_state(place.state);
      r.set_experience_type(TypeOf(static_cast<int>(h % 100)));
      break;
    case 3:
      r.set_hands_on(true);
      r.set_lor_offered(true);
      r.set_max_total_fee_cents(450000);
      break;
    case 4:
      r.set_specialty(SpecialtyOf(h));
      r.set_start_from(absl::FormatCivilTime(d.today + 30));
      r.set_start_to(absl::FormatCivilTime(d.today + 150));
      r.set_order_by("total_fee");
      break;
    default:
      r.set_visa(tv::J1);
      r.set_setting(tv::INPATIENT);
      r.set_order_by("seats_available desc");
      break;
  }
  return r;
}

}  // namespace clerkship::bench
