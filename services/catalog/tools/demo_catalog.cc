#include "services/catalog/tools/demo_catalog.h"

#include <algorithm>
#include <functional>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "clerkship/catalog/v1/catalog.grpc.pb.h"
#include "common/auth/identity.h"
#include "common/status/status.h"

namespace clerkship::catalog::demo {
namespace {

using type::v1::ExperienceType;
using type::v1::Specialty;

struct SiteSpec {
  const char* id;
  const char* name;
  const char* organization;
  const char* city;
  const char* state;
  const char* address;
  const char* time_zone;
  int weekly_housing_cents;  // local cost of a furnished room, for the housing estimate
};

constexpr SiteSpec kSites[] = {
    {"mercy-general-queens", "Mercy General Hospital — Queens", "Mercy Health System", "Queens",
     "NY", "88-25 Queens Blvd, Queens, NY 11373", "America/New_York", 52500},
    {"brooklyn-community-medical", "Brooklyn Community Medical Center", "Kings Health Partners",
     "Brooklyn", "NY", "1450 Flatbush Ave, Brooklyn, NY 11210", "America/New_York", 50000},
    {"st-agnes-bronx", "St. Agnes Hospital", "Mercy Health System", "Bronx", "NY",
     "2340 Grand Concourse, Bronx, NY 10458", "America/New_York", 45000},
    {"hudson-valley-family-health", "Hudson Valley Family Health", "", "Poughkeepsie", "NY",
     "12 Market St, Poughkeepsie, NY 12601", "America/New_York", 32500},
    {"garden-state-medical", "Garden State Medical Center", "Jersey Care Network", "Newark", "NJ",
     "300 Broad St, Newark, NJ 07104", "America/New_York", 37500},
    {"shore-community-hospital", "Shore Community Hospital", "Jersey Care Network",
     "Toms River", "NJ", "99 Hooper Ave, Toms River, NJ 08753", "America/New_York", 32500},
    {"keystone-university-hospital", "Keystone University Hospital",
     "Keystone University Health", "Philadelphia", "PA", "3400 Spruce St, Philadelphia, PA 19104",
     "America/New_York", 40000},
    {"allegheny-valley-clinic", "Allegheny Valley Clinic", "", "Pittsburgh", "PA",
     "4815 Liberty Ave, Pittsburgh, PA 15224", "America/New_York", 30000},
    {"lakeshore-medical-chicago", "Lakeshore Medical Center", "Great Lakes Health", "Chicago",
     "IL", "836 W Wellington Ave, Chicago, IL 60657", "America/Chicago", 42500},
    {"prairie-family-clinic", "Prairie Family Clinic", "", "Springfield", "IL",
     "701 N First St, Springfield, IL 62702", "America/Chicago", 25000},
    {"gulf-coast-regional", "Gulf Coast Regional Hospital", "Gulf Coast Health", "Houston", "TX",
     "6411 Fannin St, Houston, TX 77030", "America/Chicago", 32500},
    {"hill-country-medical", "Hill Country Medical Center", "Gulf Coast Health", "Austin", "TX",
     "1500 Red River St, Austin, TX 78701", "America/Chicago", 37500},
    {"rio-grande-valley-health", "Rio Grande Valley Health", "", "McAllen", "TX",
     "1102 W Trenton Rd, McAllen, TX 78504", "America/Chicago", 22500},
    {"dallas-metro-im-associates", "Dallas Metro Internal Medicine Associates", "", "Dallas",
     "TX", "8210 Walnut Hill Ln, Dallas, TX 75231", "America/Chicago", 32500},
    {"biscayne-bay-hospital", "Biscayne Bay Hospital", "Sunshine Health Alliance", "Miami", "FL",
     "4300 Alton Rd, Miami Beach, FL 33140", "America/New_York", 45000},
    {"suncoast-pediatric-center", "Suncoast Pediatric Center", "Sunshine Health Alliance",
     "Tampa", "FL", "501 6th Ave S, Tampa, FL 33606", "America/New_York", 32500},
    {"orlando-heart-institute", "Orlando Heart Institute", "", "Orlando", "FL",
     "1414 Kuhl Ave, Orlando, FL 32806", "America/New_York", 30000},
    {"pacific-crest-medical", "Pacific Crest Medical Center", "Pacific Crest Health",
     "Los Angeles", "CA", "1200 N State St, Los Angeles, CA 90033", "America/Los_Angeles",
     55000},
    {"bay-area-community-clinic", "Bay Area Community Clinic", "", "Oakland", "CA",
     "1411 E 31st St, Oakland, CA 94602", "America/Los_Angeles", 57500},
    {"central-valley-hospital", "Central Valley Hospital", "Pacific Crest Health", "Fresno",
     "CA", "2823 Fresno St, Fresno, CA 93721", "America/Los_Angeles", 27500},
    {"peachtree-medical-center", "Peachtree Medical Center", "", "Atlanta", "GA",
     "1968 Peachtree Rd NW, Atlanta, GA 30309", "America/New_York", 35000},
    {"great-lakes-detroit", "Great Lakes Health — Detroit", "Great Lakes Health", "Detroit",
     "MI", "3990 John R St, Detroit, MI 48201", "America/Detroit", 25000},
    {"buckeye-family-medicine", "Buckeye Family Medicine", "", "Columbus", "OH",
     "410 W 10th Ave, Columbus, OH 43210", "America/New_York", 27500},
    {"cuyahoga-valley-hospital", "Cuyahoga Valley Hospital", "", "Cleveland", "OH",
     "9500 Euclid Ave, Cleveland, OH 44195", "America/New_York", 27500},
    {"chesapeake-university-medical", "Chesapeake University Medical Center",
     "Chesapeake University", "Baltimore", "MD", "600 N Wolfe St, Baltimore, MD 21287",
     "America/New_York", 35000},
    {"sonoran-desert-clinic", "Sonoran Desert Clinic", "", "Phoenix", "AZ",
     "1111 E McDowell Rd, Phoenix, AZ 85006", "America/Phoenix", 30000},
    {"puget-sound-medical", "Puget Sound Medical Center", "", "Seattle", "WA",
     "325 9th Ave, Seattle, WA 98104", "America/Los_Angeles", 50000},
    {"beacon-hill-neurology", "Beacon Hill Neurology Associates", "", "Boston", "MA",
     "55 Fruit St, Boston, MA 02114", "America/New_York", 52500},
    {"piedmont-research-hospital", "Piedmont Research Hospital", "", "Charlotte", "NC",
     "1000 Blythe Blvd, Charlotte, NC 28203", "America/New_York", 30000},
    {"front-range-medical", "Front Range Medical Center", "", "Denver", "CO",
     "777 Bannock St, Denver, CO 80204", "America/Denver", 40000},
};

struct SpecialtySpec {
  Specialty specialty;
  const char* name;
  int weight;  // how often it is offered: IMGs ask for primary care most
};

constexpr SpecialtySpec kSpecialties[] = {
    {type::v1::INTERNAL_MEDICINE, "Internal Medicine", 14},
    {type::v1::FAMILY_MEDICINE, "Family Medicine", 10},
    {type::v1::PEDIATRICS, "Pediatrics", 7},
    {type::v1::PSYCHIATRY, "Psychiatry", 6},
    {type::v1::GENERAL_SURGERY, "General Surgery", 5},
    {type::v1::OBSTETRICS_GYNECOLOGY, "Obstetrics and Gynecology", 4},
    {type::v1::NEUROLOGY, "Neurology", 4},
    {type::v1::CARDIOLOGY, "Cardiology", 5},
    {type::v1::GASTROENTEROLOGY, "Gastroenterology", 3},
    {type::v1::PULMONOLOGY_CRITICAL_CARE, "Pulmonology and Critical Care", 3},
    {type::v1::NEPHROLOGY, "Nephrology", 2},
    {type::v1::ENDOCRINOLOGY, "Endocrinology", 2},
    {type::v1::HEMATOLOGY_ONCOLOGY, "Hematology and Oncology", 3},
    {type::v1::INFECTIOUS_DISEASE, "Infectious Disease", 2},
    {type::v1::RHEUMATOLOGY, "Rheumatology", 2},
    {type::v1::EMERGENCY_MEDICINE, "Emergency Medicine", 4},
    {type::v1::ANESTHESIOLOGY, "Anesthesiology", 2},
    {type::v1::RADIOLOGY, "Radiology", 2},
    {type::v1::PATHOLOGY, "Pathology", 2},
    {type::v1::DERMATOLOGY, "Dermatology", 2},
    {type::v1::GERIATRIC_MEDICINE, "Geriatric Medicine", 2},
    {type::v1::PHYSICAL_MEDICINE_REHABILITATION, "Physical Medicine and Rehabilitation", 1},
    {type::v1::ALLERGY_IMMUNOLOGY, "Allergy and Immunology", 1},
    {type::v1::PALLIATIVE_MEDICINE, "Hospice and Palliative Medicine", 1},
};

// Out of every 20 rotations: 6 clerkships, 3 electives, 3 externships, 3 observerships,
// 2 shadowing, 2 research, 1 telehealth.
constexpr ExperienceType kTypeCycle[20] = {
    type::v1::CLINICAL_ROTATION, type::v1::OBSERVERSHIP, type::v1::ELECTIVE,
    type::v1::EXTERNSHIP,        type::v1::CLINICAL_ROTATION, type::v1::SHADOWING,
    type::v1::RESEARCH,          type::v1::CLINICAL_ROTATION, type::v1::OBSERVERSHIP,
    type::v1::ELECTIVE,          type::v1::TELEHEALTH,        type::v1::EXTERNSHIP,
    type::v1::CLINICAL_ROTATION, type::v1::SHADOWING,         type::v1::ELECTIVE,
    type::v1::CLINICAL_ROTATION, type::v1::OBSERVERSHIP,      type::v1::RESEARCH,
    type::v1::EXTERNSHIP,        type::v1::CLINICAL_ROTATION,
};

constexpr const char* kFirstNames[] = {"Amara", "Daniel", "Priya", "Samuel", "Lucia", "Omar",
                                       "Grace", "Hiro", "Nadia", "Thomas", "Elena", "Kwame",
                                       "Rachel", "Victor", "Mei", "Jonah"};
constexpr const char* kLastNames[] = {"Okafor", "Reyes", "Sharma", "Whitfield", "Moreno",
                                      "Haddad", "Lindqvist", "Tanaka", "Petrova", "Brennan",
                                      "Castillo", "Mensah", "Goldberg", "Novak", "Chen",
                                      "Abernathy"};
constexpr const char* kCredentials[] = {"MD", "MD, FACP", "DO", "MD, PhD", "MD, FAAP", "DO, FACEP"};

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // The same sequence on every platform, unlike the standard distributions.
  int Pick(int n) { return static_cast<int>(engine_() % static_cast<uint64_t>(n)); }
  bool Chance(int percent) { return Pick(100) < percent; }
  int Between(int lo, int hi) { return lo + Pick(hi - lo + 1); }

 private:
  std::mt19937_64 engine_;
};

std::string Slug(absl::string_view enum_name) {
  return absl::StrReplaceAll(absl::AsciiStrToLower(enum_name), {{"_", "-"}});
}

const char* TypeSlug(ExperienceType t) {
  switch (t) {
    case type::v1::CLINICAL_ROTATION: return "clerkship";
    case type::v1::ELECTIVE: return "elective";
    case type::v1::EXTERNSHIP: return "externship";
    case type::v1::OBSERVERSHIP: return "observership";
    case type::v1::SHADOWING: return "shadowing";
    case type::v1::RESEARCH: return "research";
    default: return "telehealth";
  }
}

const SpecialtySpec& PickSpecialty(Rng& rng) {
  int total = 0;
  for (const auto& s : kSpecialties) total += s.weight;
  int x = rng.Pick(total);
  for (const auto& s : kSpecialties) {
    if (x < s.weight) return s;
    x -= s.weight;
  }
  return kSpecialties[0];
}

std::string Title(ExperienceType t, type::v1::Setting setting, const std::string& specialty) {
  switch (t) {
    case type::v1::CLINICAL_ROTATION:
      return absl::StrCat(setting == type::v1::INPATIENT    ? "Inpatient "
                          : setting == type::v1::OUTPATIENT ? "Outpatient "
                                                            : "",
                          specialty, " Clerkship");
    case type::v1::ELECTIVE: return absl::StrCat(specialty, " Elective");
    case type::v1::EXTERNSHIP: return absl::StrCat(specialty, " Externship");
    case type::v1::OBSERVERSHIP: return absl::StrCat(specialty, " Observership");
    case type::v1::SHADOWING: return absl::StrCat("Physician Shadowing in ", specialty);
    case type::v1::RESEARCH: return absl::StrCat("Clinical Research in ", specialty);
    default: return absl::StrCat("Telehealth ", specialty, " Rotation");
  }
}

std::string Description(ExperienceType t, const std::string& specialty, const SiteSpec& site,
                        const type::v1::HandsOn& hands_on, int weeks) {
  std::string what;
  switch (t) {
    case type::v1::OBSERVERSHIP:
      what = "Observe attending physicians on rounds and in clinic, attend morning report and "
             "case conferences. No direct patient care.";
      break;
    case type::v1::SHADOWING:
      what = "Follow one attending physician through clinic days and procedures, with time to "
             "discuss each case afterwards. No direct patient care.";
      break;
    case type::v1::RESEARCH:
      what = "Join an ongoing clinical study: chart review, data collection and analysis, and a "
             "poster or manuscript draft by the end of the rotation.";
      break;
    case type::v1::TELEHEALTH:
      what = "Take part in scheduled video visits, present patients to the supervising "
             "physician and join weekly remote case discussions.";
      break;
    case type::v1::EXTERNSHIP:
      what = "Work as a member of the care team with graduated responsibility: admissions, "
             "daily progress notes, sign-outs and family meetings under supervision.";
      break;
    default:
      what = "Examine patients, present on rounds, write notes co-signed by the attending and "
             "take part in teaching sessions with residents.";
  }
  return absl::StrCat(weeks, "-week ", specialty, " experience at ", site.name, " in ", site.city,
                      ", ", site.state, ". ", what,
                      hands_on.emr_access() ? " Trainees get their own EMR login." : "",
                      hands_on.students_per_preceptor() > 0
                          ? absl::StrCat(" Up to ", hands_on.students_per_preceptor(),
                                         " trainees per preceptor.")
                          : "");
}

DemoRotation MakeRotation(Rng& rng, int index, absl::CivilDay today) {
  const SiteSpec& site = kSites[(index * 7 + rng.Pick(3)) % (sizeof(kSites) / sizeof(kSites[0]))];
  const SpecialtySpec& spec = PickSpecialty(rng);
  ExperienceType t = kTypeCycle[index % 20];
  bool observing = t == type::v1::OBSERVERSHIP || t == type::v1::SHADOWING;

  v1::Rotation r;
  r.set_site(absl::StrCat("sites/", site.id));
  r.set_specialty(spec.specialty);
  r.set_experience_type(t);
  bool acute = spec.specialty == type::v1::GENERAL_SURGERY ||
               spec.specialty == type::v1::ANESTHESIOLOGY ||
               spec.specialty == type::v1::EMERGENCY_MEDICINE ||
               spec.specialty == type::v1::PULMONOLOGY_CRITICAL_CARE;
  type::v1::Setting setting =
      t == type::v1::TELEHEALTH ? type::v1::OUTPATIENT
      : acute                   ? type::v1::INPATIENT
                                : static_cast<type::v1::Setting>(1 + rng.Pick(3));
  r.set_setting(setting);

  auto* hands_on = r.mutable_hands_on();
  switch (t) {
    case type::v1::OBSERVERSHIP:
    case type::v1::SHADOWING:
      hands_on->set_students_per_preceptor(t == type::v1::SHADOWING ? 1 : rng.Between(2, 6));
      break;
    case type::v1::RESEARCH:
      hands_on->set_patient_contact(rng.Chance(30));
      hands_on->set_emr_access(rng.Chance(60));
      hands_on->set_students_per_preceptor(rng.Between(1, 3));
      break;
    case type::v1::TELEHEALTH:
      hands_on->set_patient_contact(true);
      hands_on->set_emr_access(true);
      hands_on->set_note_writing(rng.Chance(50));
      hands_on->set_students_per_preceptor(rng.Between(2, 8));
      break;
    default:
      hands_on->set_patient_contact(true);
      hands_on->set_emr_access(t == type::v1::EXTERNSHIP || rng.Chance(65));
      hands_on->set_note_writing(t == type::v1::EXTERNSHIP || rng.Chance(75));
      hands_on->set_students_per_preceptor(rng.Between(1, 4));
  }

  // Length in weeks (one of two, the first with the given chance) and the program fee range
  // in dollars for a four-week block.
  struct Shape {
    int weeks_a, weeks_b, percent_a, fee_lo, fee_hi;
  };
  Shape shape;
  switch (t) {
    case type::v1::ELECTIVE: shape = {2, 4, 50, 2000, 4000}; break;
    case type::v1::EXTERNSHIP: shape = {4, 8, 60, 3000, 6000}; break;
    case type::v1::OBSERVERSHIP: shape = {2, 4, 50, 1000, 2500}; break;
    case type::v1::SHADOWING: shape = {1, 2, 60, 500, 1500}; break;
    case type::v1::RESEARCH: shape = {8, 12, 50, 1500, 3500}; break;
    case type::v1::TELEHEALTH: shape = {4, 4, 100, 800, 2000}; break;
    default: shape = {4, 4, 100, 2500, 4500};
  }
  int weeks = rng.Chance(shape.percent_a) ? shape.weeks_a : shape.weeks_b;
  int fee_lo = shape.fee_lo, fee_hi = shape.fee_hi;
  r.set_duration_weeks(weeks);
  auto* fees = r.mutable_fees();
  fees->set_program_fee_cents(int64_t{100} * 250 * (rng.Between(fee_lo, fee_hi) / 250) * weeks / 4);
  fees->set_application_fee_cents(5000 * rng.Pick(4));
  fees->set_background_check_cents(observing || t == type::v1::TELEHEALTH ? 0
                                   : rng.Chance(70)                        ? 4500
                                                                           : 0);
  fees->set_malpractice_insurance_cents(hands_on->patient_contact() && t != type::v1::TELEHEALTH
                                            ? 2500 * rng.Between(4, 10)
                                            : 0);
  fees->set_housing_estimate_cents(t == type::v1::TELEHEALTH
                                       ? 0
                                       : int64_t{site.weekly_housing_cents} * weeks);
  r.set_refund_policy(static_cast<type::v1::RefundPolicy>(1 + rng.Pick(6)));
  r.set_stipend_cents(t == type::v1::RESEARCH && rng.Chance(35) ? 150000 * weeks / 4 : 0);
  int lor_percent = t == type::v1::SHADOWING       ? 20
                    : t == type::v1::OBSERVERSHIP  ? 50
                    : t == type::v1::TELEHEALTH    ? 40
                    : t == type::v1::RESEARCH      ? 70
                                                   : 85;
  r.set_lor_offered(rng.Chance(lor_percent));

  auto* e = r.mutable_eligibility();
  bool graduates_only = t == type::v1::EXTERNSHIP;
  bool students_only = !graduates_only && (t == type::v1::CLINICAL_ROTATION ||
                                           t == type::v1::ELECTIVE) && rng.Chance(40);
  if (graduates_only) e->add_allowed_training_stages(type::v1::GRADUATE);
  if (students_only) e->add_allowed_training_stages(type::v1::STUDENT);
  e->set_step1_pass_required(graduates_only ||
                             (t == type::v1::CLINICAL_ROTATION && rng.Chance(50)) ||
                             rng.Chance(15));
  if (graduates_only && rng.Chance(50)) {
    e->set_step2ck_required(true);
    if (rng.Chance(50)) e->set_min_step2ck_score(5 * rng.Between(44, 48));
  }
  e->set_ecfmg_required(graduates_only && rng.Chance(40));
  if (graduates_only) {
    for (auto v : {type::v1::US_CITIZEN, type::v1::PERMANENT_RESIDENT, type::v1::J1,
                   type::v1::H1B, type::v1::EAD}) {
      e->add_accepted_visa_statuses(v);
    }
    e->set_max_years_since_graduation(rng.Chance(50) ? 5 : 10);
  } else if (!observing && t != type::v1::TELEHEALTH && rng.Chance(40)) {
    for (auto v : {type::v1::US_CITIZEN, type::v1::PERMANENT_RESIDENT, type::v1::B1_B2,
                   type::v1::F1, type::v1::J1}) {
      e->add_accepted_visa_statuses(v);
    }
  }

  r.add_required_documents(type::v1::CV);
  r.add_required_documents(type::v1::PASSPORT);
  bool in_person_contact = hands_on->patient_contact() && t != type::v1::TELEHEALTH;
  if (t != type::v1::TELEHEALTH) r.add_required_documents(type::v1::IMMUNIZATION_RECORD);
  if (in_person_contact) r.add_required_documents(type::v1::TB_TEST);
  if (fees->background_check_cents() > 0) r.add_required_documents(type::v1::BACKGROUND_CHECK);
  if (fees->malpractice_insurance_cents() > 0) {
    r.add_required_documents(type::v1::LIABILITY_INSURANCE);
  }
  if (e->step1_pass_required()) r.add_required_documents(type::v1::USMLE_TRANSCRIPT);
  if (graduates_only) r.add_required_documents(type::v1::MEDICAL_DIPLOMA);
  if (students_only && in_person_contact) {
    r.add_required_documents(type::v1::SCHOOL_AUTHORIZATION_LETTER);
  }
  if (acute && in_person_contact) r.add_required_documents(type::v1::BLS_CERTIFICATE);
  r.set_verified_documents_required(graduates_only || (in_person_contact && rng.Chance(40)));

  r.set_supervising_physician(absl::StrCat(
      "Dr. ", kFirstNames[rng.Pick(16)], " ", kLastNames[rng.Pick(16)], ", ",
      kCredentials[rng.Pick(6)]));
  r.set_title(Title(t, setting, spec.name));
  r.set_description(Description(t, spec.name, site, *hands_on, weeks));

  DemoRotation out;
  out.id = absl::StrFormat("%s-%s-%03d", Slug(type::v1::Specialty_Name(spec.specialty)),
                           TypeSlug(t), index + 1);
  out.rotation = std::move(r);

  // 2-4 cohorts spread over the coming year.
  int capacity_lo = 2, capacity_hi = 6;
  if (observing) capacity_lo = 3, capacity_hi = 10;
  if (t == type::v1::TELEHEALTH) capacity_lo = 8, capacity_hi = 20;
  if (t == type::v1::RESEARCH) capacity_lo = 1, capacity_hi = 3;
  int cohorts = rng.Between(2, 4);
  int gap = 330 / cohorts;
  for (int k = 0; k < cohorts; ++k) {
    absl::CivilDay start = today + 21 + k * gap + rng.Pick(std::max(1, gap - 7 * weeks));
    if (start > today + 364) start = today + 364 - rng.Pick(7);
    // Cohorts start on a Monday.
    while (absl::GetWeekday(start) != absl::Weekday::monday) start -= 1;
    absl::CivilDay deadline = std::max(today, start - rng.Between(14, 45));
    DemoSession s;
    s.id = absl::StrCat("cohort-", k + 1);
    s.session.set_start_date(absl::FormatCivilTime(start));
    s.session.set_end_date(absl::FormatCivilTime(start + 7 * weeks - 3));  // ends on a Friday
    s.session.set_application_deadline(absl::FormatCivilTime(deadline));
    s.session.set_capacity(rng.Between(capacity_lo, capacity_hi));
    out.sessions.push_back(std::move(s));
  }
  return out;
}

constexpr int kRotations = 200;
constexpr int kMaxAttempts = 20;

// One call, retried while the service is still starting (UNAVAILABLE).
grpc::Status Call(const std::string& principal,
                  const std::function<grpc::Status(grpc::ClientContext*)>& rpc) {
  grpc::Status s;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    grpc::ClientContext context;
    context.AddMetadata(auth::kRoleHeader, "admin");
    context.AddMetadata(auth::kPrincipalHeader, principal);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    s = rpc(&context);
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return s;
    absl::SleepFor(absl::Milliseconds(250));
  }
  return s;
}

// Created, already there, or a real failure.
absl::Status Count(const grpc::Status& s, int* created, int* existing) {
  if (s.ok()) {
    ++*created;
    return absl::OkStatus();
  }
  if (s.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
    ++*existing;
    return absl::OkStatus();
  }
  return FromGrpcStatus(s);
}

}  // namespace

DemoCatalog BuildDemoCatalog(absl::CivilDay today, uint64_t seed) {
  DemoCatalog c;
  for (const SiteSpec& spec : kSites) {
    DemoSite site;
    site.id = spec.id;
    site.site.set_display_name(spec.name);
    site.site.set_organization(spec.organization);
    site.site.set_city(spec.city);
    site.site.set_us_state(spec.state);
    site.site.set_address(spec.address);
    site.site.set_time_zone(spec.time_zone);
    site.site.set_website(absl::StrCat("https://", spec.id, ".example.org"));
    site.site.set_coordinator_email(absl::StrCat("clerkships@", spec.id, ".example.org"));
    c.sites.push_back(std::move(site));
  }
  Rng rng(seed);
  for (int i = 0; i < kRotations; ++i) c.rotations.push_back(MakeRotation(rng, i, today));
  return c;
}

absl::Status LoadDemoCatalog(const std::shared_ptr<grpc::Channel>& channel,
                             const DemoCatalog& catalog, const std::string& principal,
                             LoadStats* stats) {
  auto stub = v1::CatalogService::NewStub(channel);
  for (const DemoSite& site : catalog.sites) {
    grpc::Status s = Call(principal, [&](grpc::ClientContext* context) {
      v1::CreateSiteRequest request;
      *request.mutable_site() = site.site;
      request.set_site_id(site.id);
      v1::Site out;
      return stub->CreateSite(context, request, &out);
    });
    if (absl::Status st = Count(s, &stats->sites_created, &stats->sites_existing); !st.ok()) {
      return st;
    }
  }
  for (const DemoRotation& rotation : catalog.rotations) {
    std::string name = absl::StrCat("rotations/", rotation.id);
    grpc::Status s = Call(principal, [&](grpc::ClientContext* context) {
      v1::CreateRotationRequest request;
      *request.mutable_rotation() = rotation.rotation;
      request.set_rotation_id(rotation.id);
      v1::Rotation out;
      return stub->CreateRotation(context, request, &out);
    });
    if (absl::Status st = Count(s, &stats->rotations_created, &stats->rotations_existing);
        !st.ok()) {
      return st;
    }
    for (const DemoSession& session : rotation.sessions) {
      s = Call(principal, [&](grpc::ClientContext* context) {
        v1::CreateSessionRequest request;
        request.set_parent(name);
        *request.mutable_session() = session.session;
        request.set_session_id(session.id);
        v1::Session out;
        return stub->CreateSession(context, request, &out);
      });
      // A rotation archived by hand since the last run takes no sessions: leave it be.
      if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) break;
      if (absl::Status st = Count(s, &stats->sessions_created, &stats->sessions_existing);
          !st.ok()) {
        return st;
      }
    }
    v1::Rotation published;
    s = Call(principal, [&](grpc::ClientContext* context) {
      v1::PublishRotationRequest request;
      request.set_name(name);
      return stub->PublishRotation(context, request, &published);
    });
    if (s.ok()) {
      ++stats->rotations_published;
    } else if (s.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
      return FromGrpcStatus(s);
    }
  }
  return absl::OkStatus();
}

}  // namespace clerkship::catalog::demo
