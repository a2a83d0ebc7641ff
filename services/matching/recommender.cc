#include "services/matching/recommender.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/eligibility/eligibility.h"

namespace clerkship::matching {
namespace {

using applicant::v1::Applicant;
using catalog::v1::Rotation;
using catalog::v1::Session;

constexpr double kSpecialtyWeight = 35;
constexpr double kSpecialtyStep = 4;
constexpr double kDatesWeight = 15;
constexpr double kLocationWeight = 15;
constexpr double kBudgetBase = 10;
constexpr double kBudgetBonus = 5;
constexpr double kHandsOnWeight = 10;
constexpr double kLetterWeight = 5;
constexpr int kSeatsCap = 5;

constexpr const char* kOrdinals[] = {"first", "second", "third",   "fourth",
                                     "fifth", "sixth",  "seventh", "eighth",
                                     "ninth", "tenth"};

std::string Ordinal(int index) {
  if (index >= 0 && index < static_cast<int>(std::size(kOrdinals)))
    return kOrdinals[index];
  return absl::StrCat(index + 1, "th");
}

int SpecialtyRank(const Applicant& applicant, type::v1::Specialty specialty) {
  for (int i = 0; i < applicant.specialty_interests_size(); ++i) {
    if (applicant.specialty_interests(i) == specialty) return i;
  }
  return -1;
}

bool InPreferredState(const Applicant& applicant, const std::string& us_state) {
  for (const std::string& s : applicant.preferred_states()) {
    if (s == us_state) return true;
  }
  return false;
}

double RoundScore(double score) { return std::round(score * 100) / 100; }

std::string TodayIn(const std::string& time_zone, absl::Time now) {
  absl::TimeZone zone = absl::UTCTimeZone();
  if (!time_zone.empty() && !absl::LoadTimeZone(time_zone, &zone))
    zone = absl::UTCTimeZone();
  return absl::FormatTime("%Y-%m-%d", now, zone);
}

struct Candidate {
  double score;
  const CatalogRotation* entry;
  const Session* session;
  ScoreParts parts;
};

bool Better(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.session->name() < b.session->name();
}

}  // namespace

int32_t DateKey(const std::string& date) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return -1;
  int32_t key = 0;
  for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (date[i] < '0' || date[i] > '9') return -1;
    key = key * 10 + (date[i] - '0');
  }
  return key;
}

const std::vector<SessionDateKeys>& CatalogRotation::DateKeys() const {
  absl::call_once(date_keys_once_, [this] {
    date_keys_.reserve(sessions.size());
    for (const Session& s : sessions) {
      date_keys_.push_back({DateKey(s.start_date()), DateKey(s.end_date()),
                            DateKey(s.application_deadline())});
    }
  });
  return date_keys_;
}

bool FitsAvailability(const Applicant& applicant, const Session& session,
                      const type::v1::DateRange** fitting_range) {
  if (fitting_range != nullptr) *fitting_range = nullptr;
  if (applicant.availability_size() == 0) return true;
  // Dates are "YYYY-MM-DD", so byte order is calendar order.
  for (const type::v1::DateRange& range : applicant.availability()) {
    if (range.start_date() <= session.start_date() &&
        session.end_date() <= range.end_date()) {
      if (fitting_range != nullptr) *fitting_range = &range;
      return true;
    }
  }
  return false;
}

bool AcceptingOn(const Rotation& rotation, const Session& session,
                 const std::string& today_in_site_tz) {
  if (rotation.state() != Rotation::PUBLISHED) return false;
  if (today_in_site_tz.empty()) return session.accepting_applications();
  return today_in_site_tz <= session.application_deadline();
}

namespace {

// ScoreSession, for a session whose fit with the applicant's availability is
// already known (`fits`: FitsAvailability's answer).
ScoreParts ScoreFittingSession(const Applicant& applicant,
                               const Rotation& rotation, const Session& session,
                               bool fits) {
  ScoreParts parts;
  int rank = SpecialtyRank(applicant, rotation.specialty());
  if (rank >= 0)
    parts.specialty = std::max(0.0, kSpecialtyWeight - kSpecialtyStep * rank);

  // FitsAvailability names a range exactly when availability is stated.
  if (applicant.availability_size() > 0 && fits) parts.dates = kDatesWeight;
  if (InPreferredState(applicant, rotation.us_state()))
    parts.location = kLocationWeight;

  const int64_t budget = applicant.budget_cents();
  const int64_t total = rotation.fees().total_cents();
  if (budget > 0) {
    if (total <= budget) {
      parts.budget = kBudgetBase + kBudgetBonus *
                                       static_cast<double>(budget - total) /
                                       static_cast<double>(budget);
    } else {
      parts.budget = std::max(
          0.0, kBudgetBase * (1.0 - static_cast<double>(total - budget) /
                                        static_cast<double>(budget)));
    }
  }
  if (applicant.prefers_hands_on() && rotation.hands_on().patient_contact()) {
    parts.hands_on = kHandsOnWeight;
  }
  if (rotation.lor_offered()) parts.letter = kLetterWeight;
  parts.seats = std::min(std::max(session.seats_available(), 0), kSeatsCap);
  return parts;
}

}  // namespace

ScoreParts ScoreSession(const Applicant& applicant, const Rotation& rotation,
                        const Session& session) {
  return ScoreFittingSession(applicant, rotation, session,
                             FitsAvailability(applicant, session, nullptr));
}

std::vector<std::string> ExplainSession(const Applicant& applicant,
                                        const Rotation& rotation,
                                        const Session& session,
                                        const ScoreParts& parts) {
  // (weight, reason) in a fixed order; sorted by weight below, stably, so equal
  // weights keep this order.
  std::vector<std::pair<double, std::string>> reasons;
  int rank = SpecialtyRank(applicant, rotation.specialty());
  if (rank >= 0) {
    reasons.emplace_back(
        parts.specialty,
        absl::StrCat(SpecialtyDisplayName(rotation.specialty()), " is your ",
                     Ordinal(rank), " choice"));
  }
  const type::v1::DateRange* range = nullptr;
  if (applicant.availability_size() > 0 &&
      FitsAvailability(applicant, session, &range) && range != nullptr) {
    reasons.emplace_back(
        parts.dates,
        absl::StrCat("starts within your availability ", range->start_date(),
                     " \xE2\x80\x93 ", range->end_date()));
  }
  if (parts.location > 0) {
    reasons.emplace_back(
        parts.location,
        absl::StrCat("in ", UsStateDisplayName(rotation.us_state()),
                     ", one of your preferred states"));
  }
  const int64_t budget = applicant.budget_cents();
  const int64_t total = rotation.fees().total_cents();
  if (budget > 0) {
    if (total < budget) {
      reasons.emplace_back(
          parts.budget,
          absl::StrCat(FormatDollars(budget - total), " under your budget"));
    } else if (total == budget) {
      reasons.emplace_back(parts.budget, "exactly your budget");
    } else {
      reasons.emplace_back(
          parts.budget,
          absl::StrCat(FormatDollars(total - budget), " over your budget"));
    }
  }
  if (parts.hands_on > 0) {
    std::vector<std::string> what;
    const type::v1::HandsOn& h = rotation.hands_on();
    if (h.patient_contact()) what.push_back("patient contact");
    if (h.emr_access()) what.push_back("EMR access");
    if (h.note_writing()) what.push_back("note writing");
    std::string list;
    for (size_t i = 0; i < what.size(); ++i) {
      if (i > 0) list += i + 1 == what.size() ? " and " : ", ";
      list += what[i];
    }
    reasons.emplace_back(parts.hands_on, absl::StrCat("hands-on: ", list));
  }
  if (parts.letter > 0)
    reasons.emplace_back(parts.letter, "offers a letter of recommendation");
  const int seats = session.seats_available();
  reasons.emplace_back(parts.seats, seats == 1
                                        ? std::string("1 seat left")
                                        : absl::StrCat(seats, " seats left"));

  std::stable_sort(
      reasons.begin(), reasons.end(),
      [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  out.reserve(reasons.size());
  for (auto& r : reasons) out.push_back(std::move(r.second));
  return out;
}

EligibilityCheck RecommendationEligibility(const Applicant& for_applicant,
                                           absl::Time now) {
  absl::TimeZone zone = absl::UTCTimeZone();
  if (!for_applicant.time_zone().empty() &&
      !absl::LoadTimeZone(for_applicant.time_zone(), &zone)) {
    zone = absl::UTCTimeZone();
  }
  const absl::CivilDay today = absl::ToCivilDay(now, zone);
  return [today](const Applicant& applicant, const Rotation& rotation) {
    eligibility::EligibilityInput input;
    input.rotation = &rotation;
    input.applicant = &applicant;
    input.today = today;
    std::vector<EligibilityProblem> problems;
    for (eligibility::Reason& reason : eligibility::CheckEligibility(input)) {
      if (reason.code == eligibility::kSchoolAuthorizationRequired) continue;
      problems.push_back({std::move(reason.code), std::move(reason.message)});
    }
    return problems;
  };
}

RecommendResult Recommend(const Applicant& applicant,
                          const std::vector<const CatalogRotation*>& catalog,
                          const EligibilityCheck& eligibility,
                          const RecommendQuery& query) {
  // Today differs by site time zone; there are few zones, so compute each once.
  absl::flat_hash_map<std::string, std::string> today_by_zone;
  std::vector<std::pair<std::string, std::string>> recent_zones;
  std::vector<Candidate> candidates;
  // The same tests as AcceptingOn and FitsAvailability, on integer date keys
  // where every date involved is well formed (they then compare exactly as the
  // strings do), else on the strings.
  std::vector<std::pair<int32_t, int32_t>> ranges;
  bool ranges_ok = true;
  for (const type::v1::DateRange& range : applicant.availability()) {
    ranges.emplace_back(DateKey(range.start_date()), DateKey(range.end_date()));
    ranges_ok = ranges_ok && ranges.back().first >= 0 && ranges.back().second >= 0;
  }
  auto fits = [&](const Session& session, const SessionDateKeys& keys) {
    if (ranges.empty()) return true;
    if (!ranges_ok || keys.start < 0 || keys.end < 0) {
      return FitsAvailability(applicant, session, nullptr);
    }
    for (const auto& [from, to] : ranges) {
      if (from <= keys.start && keys.end <= to) return true;
    }
    return false;
  };
  for (const CatalogRotation* entry : catalog) {
    const Rotation& rotation = entry->rotation;
    if (rotation.state() != Rotation::PUBLISHED) continue;
    const std::string* today = nullptr;
    if (!entry->site_time_zone.empty()) {
      // Few zones: a short list is quicker to search than hashing every name.
      for (const auto& [zone, day] : recent_zones) {
        if (zone == entry->site_time_zone) {
          today = &day;
          break;
        }
      }
      if (today == nullptr) {
        auto it = today_by_zone.find(entry->site_time_zone);
        if (it == today_by_zone.end()) {
          it = today_by_zone
                   .emplace(entry->site_time_zone,
                            TodayIn(entry->site_time_zone, query.now))
                   .first;
        }
        today = &it->second;
        if (recent_zones.size() < 16) recent_zones.emplace_back(it->first, it->second);
      }
    }
    const int32_t today_key = today != nullptr ? DateKey(*today) : -1;
    const std::vector<SessionDateKeys>& keys = entry->DateKeys();
    bool checked = false;
    bool eligible = false;
    for (size_t i = 0; i < entry->sessions.size(); ++i) {
      const Session& session = entry->sessions[i];
      if (session.seats_available() <= 0) continue;
      if (today == nullptr || today_key < 0 || keys[i].deadline < 0) {
        if (!AcceptingOn(rotation, session, today ? *today : std::string())) continue;
      } else if (today_key > keys[i].deadline) {
        continue;  // AcceptingOn: today <= deadline (the rotation is PUBLISHED)
      }
      if (!fits(session, keys[i])) continue;
      // Most applicants have no live application: skip hashing the name then.
      if (!query.excluded_sessions.empty() &&
          query.excluded_sessions.contains(session.name())) {
        continue;
      }
      // Eligibility is per rotation, and the dearest check here: run it once,
      // lazily.
      if (!checked) {
        eligible = !eligibility || eligibility(applicant, rotation).empty();
        checked = true;
      }
      if (!eligible) break;
      ScoreParts parts =
          ScoreFittingSession(applicant, rotation, session, /*fits=*/true);
      candidates.push_back({RoundScore(parts.total()), entry, &session, parts});
    }
  }

  RecommendResult result;
  result.total = static_cast<int>(candidates.size());
  const size_t begin =
      std::min<size_t>(std::max(query.offset, 0), candidates.size());
  const size_t end =
      std::min<size_t>(begin + std::max(query.limit, 0), candidates.size());
  std::partial_sort(candidates.begin(), candidates.begin() + end,
                    candidates.end(), Better);
  for (size_t i = begin; i < end; ++i) {
    const Candidate& c = candidates[i];
    const Rotation& rotation = c.entry->rotation;
    const Session& session = *c.session;
    v1::Recommendation& r = result.recommendations.emplace_back();
    r.set_session(session.name());
    r.set_rotation(rotation.name());
    r.set_score(c.score);
    for (std::string& reason :
         ExplainSession(applicant, rotation, session, c.parts)) {
      r.add_reasons(std::move(reason));
    }
    r.set_rotation_title(rotation.title());
    r.set_site(rotation.site());
    r.set_site_display_name(rotation.site_display_name());
    r.set_city(rotation.city());
    r.set_us_state(rotation.us_state());
    r.set_specialty(rotation.specialty());
    r.set_experience_type(rotation.experience_type());
    r.set_setting(rotation.setting());
    *r.mutable_hands_on() = rotation.hands_on();
    r.set_duration_weeks(rotation.duration_weeks());
    r.set_start_date(session.start_date());
    r.set_end_date(session.end_date());
    r.set_application_deadline(session.application_deadline());
    r.set_total_fee_cents(rotation.fees().total_cents());
    r.set_seats_available(session.seats_available());
    r.set_lor_offered(rotation.lor_offered());
  }
  return result;
}

std::string SpecialtyDisplayName(type::v1::Specialty specialty) {
  using type::v1::Specialty;
  switch (specialty) {
    case type::v1::INTERNAL_MEDICINE:
      return "Internal Medicine";
    case type::v1::FAMILY_MEDICINE:
      return "Family Medicine";
    case type::v1::PEDIATRICS:
      return "Pediatrics";
    case type::v1::GENERAL_SURGERY:
      return "General Surgery";
    case type::v1::OBSTETRICS_GYNECOLOGY:
      return "Obstetrics and Gynecology";
    case type::v1::PSYCHIATRY:
      return "Psychiatry";
    case type::v1::NEUROLOGY:
      return "Neurology";
    case type::v1::CARDIOLOGY:
      return "Cardiology";
    case type::v1::GASTROENTEROLOGY:
      return "Gastroenterology";
    case type::v1::PULMONOLOGY_CRITICAL_CARE:
      return "Pulmonology and Critical Care";
    case type::v1::NEPHROLOGY:
      return "Nephrology";
    case type::v1::ENDOCRINOLOGY:
      return "Endocrinology";
    case type::v1::HEMATOLOGY_ONCOLOGY:
      return "Hematology and Oncology";
    case type::v1::INFECTIOUS_DISEASE:
      return "Infectious Disease";
    case type::v1::RHEUMATOLOGY:
      return "Rheumatology";
    case type::v1::EMERGENCY_MEDICINE:
      return "Emergency Medicine";
    case type::v1::ANESTHESIOLOGY:
      return "Anesthesiology";
    case type::v1::RADIOLOGY:
      return "Radiology";
    case type::v1::PATHOLOGY:
      return "Pathology";
    case type::v1::DERMATOLOGY:
      return "Dermatology";
    case type::v1::OPHTHALMOLOGY:
      return "Ophthalmology";
    case type::v1::ORTHOPEDIC_SURGERY:
      return "Orthopedic Surgery";
    case type::v1::UROLOGY:
      return "Urology";
    case type::v1::OTOLARYNGOLOGY:
      return "Otolaryngology";
    case type::v1::NEUROSURGERY:
      return "Neurosurgery";
    case type::v1::PHYSICAL_MEDICINE_REHABILITATION:
      return "Physical Medicine and Rehabilitation";
    case type::v1::GERIATRIC_MEDICINE:
      return "Geriatric Medicine";
    case type::v1::PALLIATIVE_MEDICINE:
      return "Palliative Medicine";
    case type::v1::ALLERGY_IMMUNOLOGY:
      return "Allergy and Immunology";
    default:
      return "This specialty";
  }
}

std::string UsStateDisplayName(const std::string& code) {
  static const auto* const kNames =
      new absl::flat_hash_map<std::string, std::string>{
          {"AL", "Alabama"},
          {"AK", "Alaska"},
          {"AZ", "Arizona"},
          {"AR", "Arkansas"},
          {"CA", "California"},
          {"CO", "Colorado"},
          {"CT", "Connecticut"},
          {"DE", "Delaware"},
          {"FL", "Florida"},
          {"GA", "Georgia"},
          {"HI", "Hawaii"},
          {"ID", "Idaho"},
          {"IL", "Illinois"},
          {"IN", "Indiana"},
          {"IA", "Iowa"},
          {"KS", "Kansas"},
          {"KY", "Kentucky"},
          {"LA", "Louisiana"},
          {"ME", "Maine"},
          {"MD", "Maryland"},
          {"MA", "Massachusetts"},
          {"MI", "Michigan"},
          {"MN", "Minnesota"},
          {"MS", "Mississippi"},
          {"MO", "Missouri"},
          {"MT", "Montana"},
          {"NE", "Nebraska"},
          {"NV", "Nevada"},
          {"NH", "New Hampshire"},
          {"NJ", "New Jersey"},
          {"NM", "New Mexico"},
          {"NY", "New York"},
          {"NC", "North Carolina"},
          {"ND", "North Dakota"},
          {"OH", "Ohio"},
          {"OK", "Oklahoma"},
          {"OR", "Oregon"},
          {"PA", "Pennsylvania"},
          {"RI", "Rhode Island"},
          {"SC", "South Carolina"},
          {"SD", "South Dakota"},
          {"TN", "Tennessee"},
          {"TX", "Texas"},
          {"UT", "Utah"},
          {"VT", "Vermont"},
          {"VA", "Virginia"},
          {"WA", "Washington"},
          {"WV", "West Virginia"},
          {"WI", "Wisconsin"},
          {"WY", "Wyoming"},
          {"DC", "the District of Columbia"},
          {"PR", "Puerto Rico"},
          {"GU", "Guam"},
          {"VI", "the U.S. Virgin Islands"}};
  auto it = kNames->find(code);
  return it == kNames->end() ? code : it->second;
}

std::string FormatDollars(int64_t cents) {
  const bool negative = cents < 0;
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(cents)
                                : static_cast<uint64_t>(cents);
  std::string digits = absl::StrCat(magnitude / 100);
  std::string grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  std::string out = absl::StrCat(negative ? "-$" : "$", grouped);
  if (magnitude % 100 != 0)
    absl::StrAppend(&out, absl::StrFormat(".%02d", magnitude % 100));
  return out;
}

}  // namespace clerkship::matching
