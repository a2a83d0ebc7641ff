#include "services/matching/recommender.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
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

// The specialty part for the applicant's `rank`-th interest (-1: none).
double SpecialtyPart(int rank) {
  return rank >= 0 ? std::max(0.0, kSpecialtyWeight - kSpecialtyStep * rank)
                   : 0.0;
}

// The budget part; 0 without a budget. Never rises as `total` rises, which the
// index scan relies on to skip the dearer rest of a bucket.
double BudgetPart(int64_t budget, int64_t total) {
  if (budget <= 0) return 0;
  if (total <= budget) {
    return kBudgetBase + kBudgetBonus * static_cast<double>(budget - total) /
                             static_cast<double>(budget);
  }
  return std::max(0.0,
                  kBudgetBase * (1.0 - static_cast<double>(total - budget) /
                                           static_cast<double>(budget)));
}

double SeatsPart(int32_t seats) {
  return std::min(std::max(seats, 0), kSeatsCap);
}

// Every part but seats, from what decides each. Both scoring paths (the protos
// in ScoreSession, the index rows in Recommend) go through here, so they give
// the same doubles.
ScoreParts RotationParts(double specialty, bool dates, bool location,
                         double budget, bool hands_on, bool letter) {
  ScoreParts parts;
  parts.specialty = specialty;
  if (dates) parts.dates = kDatesWeight;
  if (location) parts.location = kLocationWeight;
  parts.budget = budget;
  if (hands_on) parts.hands_on = kHandsOnWeight;
  if (letter) parts.letter = kLetterWeight;
  return parts;
}

// ScoreSession, for a session whose fit with the applicant's availability is
// already known (`fits`: FitsAvailability's answer).
ScoreParts ScoreFittingSession(const Applicant& applicant,
                               const Rotation& rotation, const Session& session,
                               bool fits) {
  ScoreParts parts = RotationParts(
      SpecialtyPart(SpecialtyRank(applicant, rotation.specialty())),
      // FitsAvailability names a range exactly when availability is stated.
      applicant.availability_size() > 0 && fits,
      InPreferredState(applicant, rotation.us_state()),
      BudgetPart(applicant.budget_cents(), rotation.fees().total_cents()),
      applicant.prefers_hands_on() && rotation.hands_on().patient_contact(),
      rotation.lor_offered());
  parts.seats = SeatsPart(session.seats_available());
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

// ---------------------------------------------------------------------------------------
// The index

namespace {

// Tables may hold values no rotation uses any more (interned values are never
// dropped); past this many per indexed rotation, a build starts afresh.
bool TablesOutgrown(size_t values, size_t rotations) {
  return values > 2 * rotations + 64;
}

}  // namespace

std::shared_ptr<const RecommendIndex> RecommendIndex::Build(
    const std::vector<const CatalogRotation*>& catalog,
    std::shared_ptr<const void> owner, const RecommendIndex* previous) {
  std::shared_ptr<RecommendIndex> index(new RecommendIndex());
  index->owner_ = std::move(owner);
  if (previous != nullptr) {
    const Tables& old = *previous->tables_;
    const size_t rotations = std::max(catalog.size(), previous->inputs_.size());
    if (TablesOutgrown(old.zones.size(), rotations) ||
        TablesOutgrown(old.us_state_ids.size(), rotations) ||
        TablesOutgrown(old.signature_rotations.size(), rotations)) {
      previous = nullptr;
    }
  }
  std::shared_ptr<Tables> own_tables;  // set once this build adds a value
  if (previous != nullptr) {
    index->tables_ = previous->tables_;
  } else {
    own_tables = std::make_shared<Tables>();
    own_tables->zones.push_back({std::string(), absl::UTCTimeZone()});
    index->tables_ = own_tables;
  }
  auto tables = [&]() -> Tables& {
    if (own_tables == nullptr) {
      own_tables = std::make_shared<Tables>(*index->tables_);
      index->tables_ = own_tables;
    }
    return *own_tables;
  };

  // Rows of entries not in `previous`, with their sessions (rows relative to
  // fresh_sessions until merged).
  std::vector<RotationRow> fresh;
  std::vector<SessionRow> fresh_sessions;
  std::string signature;
  auto add_fresh = [&](const CatalogRotation* entry) -> uint32_t {
    const Rotation& rotation = entry->rotation;
    if (rotation.state() != Rotation::PUBLISHED) return kNotIndexed;
    RotationRow row;
    row.entry = entry;
    row.first_session = static_cast<uint32_t>(fresh_sessions.size());
    const std::vector<SessionDateKeys>* keys = nullptr;
    for (size_t k = 0; k < entry->sessions.size(); ++k) {
      const Session& session = entry->sessions[k];
      if (session.seats_available() <= 0) continue;
      if (keys == nullptr) keys = &entry->DateKeys();
      row.max_seats = std::max(row.max_seats, session.seats_available());
      SessionRow& s = fresh_sessions.emplace_back();
      s.start = (*keys)[k].start;
      s.end = (*keys)[k].end;
      s.deadline = (*keys)[k].deadline;
      s.seats_available = session.seats_available();
      s.accepting_applications = session.accepting_applications();
      s.session = &session;
    }
    row.end_session = static_cast<uint32_t>(fresh_sessions.size());
    if (row.end_session == row.first_session) return kNotIndexed;

    row.total_fee_cents = rotation.fees().total_cents();
    row.specialty = rotation.specialty();
    row.patient_contact = rotation.hands_on().patient_contact();
    row.lor_offered = rotation.lor_offered();
    if (!entry->site_time_zone.empty()) {
      auto it = index->tables_->zone_ids.find(entry->site_time_zone);
      if (it != index->tables_->zone_ids.end()) {
        row.zone = it->second;
      } else {
        Tables& t = tables();
        row.zone = static_cast<uint32_t>(t.zones.size());
        t.zone_ids.emplace(entry->site_time_zone, row.zone);
        // As TodayIn: a zone that does not load is read as UTC.
        Zone zone{entry->site_time_zone, absl::UTCTimeZone()};
        if (!absl::LoadTimeZone(zone.name, &zone.time_zone)) {
          zone.time_zone = absl::UTCTimeZone();
        }
        t.zones.push_back(std::move(zone));
      }
    }
    if (auto it = index->tables_->us_state_ids.find(rotation.us_state());
        it != index->tables_->us_state_ids.end()) {
      row.us_state = it->second;
    } else {
      Tables& t = tables();
      row.us_state = static_cast<uint32_t>(t.us_state_ids.size());
      t.us_state_ids.emplace(rotation.us_state(), row.us_state);
    }
    // What CheckEligibility reads of a published rotation (patient contact
    // only for the school-authorization rule, which recommendations leave
    // out, but kept so that the signature does not depend on that detail).
    // The serialized rules come first and the fixed-size rest last, so
    // different inputs never make the same key.
    signature.clear();
    rotation.eligibility().AppendToString(&signature);
    const int32_t experience_type = rotation.experience_type();
    signature.append(reinterpret_cast<const char*>(&experience_type),
                     sizeof(experience_type));
    signature.push_back(row.patient_contact ? '\1' : '\0');
    if (auto it = index->tables_->signature_ids.find(signature);
        it != index->tables_->signature_ids.end()) {
      row.signature = it->second;
    } else {
      Tables& t = tables();
      row.signature = static_cast<uint32_t>(t.signature_rotations.size());
      t.signature_ids.emplace(signature, row.signature);
      auto representative = std::make_shared<Rotation>();
      representative->set_state(Rotation::PUBLISHED);
      *representative->mutable_eligibility() = rotation.eligibility();
      representative->set_experience_type(rotation.experience_type());
      representative->mutable_hands_on()->set_patient_contact(
          row.patient_contact);
      t.signature_rotations.push_back(std::move(representative));
    }
    fresh.push_back(row);
    return static_cast<uint32_t>(fresh.size() - 1);
  };

  // Where each entry's row comes from: a row of `previous` (kept[row] set),
  // a fresh row (kFresh | index into fresh), or none.
  constexpr uint32_t kFresh = 1u << 31;
  const size_t n = catalog.size();
  std::vector<uint32_t> source(n, kNotIndexed);
  std::vector<bool> kept(previous != nullptr ? previous->rotations_.size() : 0);
  const size_t m = previous != nullptr ? previous->inputs_.size() : 0;
  // Both lists are walked together by rotation name; names are only read
  // where the entries differ, i.e. for what changed.
  size_t j = 0;  // position in previous->inputs_
  for (size_t i = 0; i < n; ++i) {
    const CatalogRotation* entry = catalog[i];
    while (j < m && previous->inputs_[j] != entry &&
           previous->inputs_[j]->rotation.name() < entry->rotation.name()) {
      ++j;  // left the catalog
    }
    if (j < m && previous->inputs_[j] == entry) {
      const uint32_t row = previous->input_rows_[j++];
      if (row == kNotIndexed) continue;
      if (!kept[row]) {  // (an entry listed twice gets a fresh second row)
        kept[row] = true;
        source[i] = row;
        continue;
      }
    } else if (j < m && previous->inputs_[j]->rotation.name() ==
                            entry->rotation.name()) {
      ++j;  // replaced by `entry`
    }
    const uint32_t added = add_fresh(entry);
    if (added != kNotIndexed) source[i] = kFresh | added;
  }

  // One bucket per specialty, by fee within it: the kept rows of `previous`
  // are in that order already; the fresh ones are sorted and merged in.
  std::vector<uint32_t> fresh_order(fresh.size());
  for (uint32_t f = 0; f < fresh_order.size(); ++f) fresh_order[f] = f;
  auto before = [](const RotationRow& a, const RotationRow& b) {
    if (a.specialty != b.specialty) return a.specialty < b.specialty;
    return a.total_fee_cents < b.total_fee_cents;
  };
  std::stable_sort(
      fresh_order.begin(), fresh_order.end(),
      [&](uint32_t a, uint32_t b) { return before(fresh[a], fresh[b]); });
  std::vector<uint32_t> new_of_kept(kept.size(), kNotIndexed);
  std::vector<uint32_t> new_of_fresh(fresh.size(), kNotIndexed);
  index->rotations_.reserve(
      fresh.size() + (previous != nullptr ? previous->rotations_.size() : 0));
  index->sessions_.reserve(
      fresh_sessions.size() +
      (previous != nullptr ? previous->sessions_.size() : 0));
  auto emit = [&](const RotationRow& from,
                  const std::vector<SessionRow>& sessions) -> uint32_t {
    const uint32_t at = static_cast<uint32_t>(index->rotations_.size());
    if (index->buckets_.empty() ||
        index->buckets_.back().specialty != from.specialty) {
      index->buckets_.push_back({from.specialty, at, at});
    }
    index->buckets_.back().end = at + 1;
    RotationRow& row = index->rotations_.emplace_back(from);
    row.first_session = static_cast<uint32_t>(index->sessions_.size());
    for (uint32_t s = from.first_session; s < from.end_session; ++s) {
      index->sessions_.emplace_back(sessions[s]).rotation = at;
    }
    row.end_session = static_cast<uint32_t>(index->sessions_.size());
    return at;
  };
  size_t p = 0, f = 0;
  const size_t previous_rows = kept.size();
  while (true) {
    while (p < previous_rows && !kept[p]) ++p;
    const bool has_kept = p < previous_rows;
    const bool has_fresh = f < fresh_order.size();
    if (!has_kept && !has_fresh) break;
    if (has_kept && (!has_fresh ||
                     !before(fresh[fresh_order[f]], previous->rotations_[p]))) {
      new_of_kept[p] = emit(previous->rotations_[p], previous->sessions_);
      ++p;
    } else {
      new_of_fresh[fresh_order[f]] =
          emit(fresh[fresh_order[f]], fresh_sessions);
      ++f;
    }
  }

  index->inputs_ = catalog;
  index->input_rows_.resize(n, kNotIndexed);
  for (size_t i = 0; i < n; ++i) {
    if (source[i] == kNotIndexed) continue;
    if (source[i] & kFresh) {
      index->input_rows_[i] = new_of_fresh[source[i] & ~kFresh];
    } else {
      index->input_rows_[i] = new_of_kept[source[i]];
      ++index->reused_;
    }
  }
  return index;
}

std::vector<const CatalogRotation*> RecommendIndex::ScanOrder() const {
  std::vector<const CatalogRotation*> out;
  out.reserve(rotations_.size());
  for (const RotationRow& row : rotations_) out.push_back(row.entry);
  return out;
}

// ---------------------------------------------------------------------------------------
// Recommend

// One Recommend call over an index: the applicant's preferences turned into
// tables over the index's ids, and a bounded selection of the best
// offset + limit candidates.
class RecommendScan {
 public:
  RecommendScan(const Applicant& applicant, const RecommendIndex& index,
                const EligibilityCheck& eligibility,
                const RecommendQuery& query)
      : applicant_(applicant),
        index_(index),
        eligibility_(eligibility),
        query_(query),
        page_begin_(std::max(query.offset, 0)),
        page_end_(page_begin_ + std::max<int64_t>(query.limit, 0)),
        // More than every indexed session can never be held.
        keep_(static_cast<size_t>(std::min<int64_t>(
            page_end_, static_cast<int64_t>(index.sessions_.size())))),
        budget_(applicant.budget_cents()),
        dated_(applicant.availability_size() > 0),
        located_(applicant.preferred_states_size() > 0),
        prefers_hands_on_(applicant.prefers_hands_on()),
        zone_days_(index.tables_->zones.size()),
        eligible_(index.tables_->signature_rotations.size(), kUnknown),
        preferred_(index.tables_->us_state_ids.size(), false) {
    for (const type::v1::DateRange& range : applicant.availability()) {
      ranges_.emplace_back(DateKey(range.start_date()),
                           DateKey(range.end_date()));
      ranges_ok_ =
          ranges_ok_ && ranges_.back().first >= 0 && ranges_.back().second >= 0;
    }
    for (const std::string& state : applicant.preferred_states()) {
      auto it = index.tables_->us_state_ids.find(state);
      if (it != index.tables_->us_state_ids.end())
        preferred_[it->second] = true;
    }
    if (keep_ == 0) {
      // Nothing to hold: every candidate is only counted.
      full_ = true;
      threshold_ = {std::numeric_limits<double>::infinity(), 0};
    }
  }

  RecommendResult Run() {
    // Buckets by the best specialty part they can score: the applicant's
    // interests in order, then the rest.
    std::vector<std::pair<double, uint32_t>> buckets;
    buckets.reserve(index_.buckets_.size());
    for (uint32_t b = 0; b < index_.buckets_.size(); ++b) {
      buckets.emplace_back(SpecialtyPart(SpecialtyRank(
                               applicant_, static_cast<type::v1::Specialty>(
                                               index_.buckets_[b].specialty))),
                           b);
    }
    std::stable_sort(
        buckets.begin(), buckets.end(),
        [](const auto& a, const auto& b) { return a.first > b.first; });

    // Rotations skipped for their score, counted afterwards if the count needs
    // them.
    std::vector<std::pair<uint32_t, uint32_t>> skipped;
    for (const auto& [specialty, b] : buckets) {
      const RecommendIndex::Bucket& bucket = index_.buckets_[b];
      for (uint32_t r = bucket.begin; r < bucket.end; ++r) {
        const RecommendIndex::RotationRow& rotation = index_.rotations_[r];
        const double budget = BudgetPart(budget_, rotation.total_fee_cents);
        if (full_) {
          // The best any rotation from here to the end of the bucket can score:
          // fees only rise, so the budget part only falls.
          if (Bound(specialty, located_, budget, prefers_hands_on_, true,
                    kSeatsCap) < threshold_.score) {
            skipped.emplace_back(r, bucket.end);
            break;
          }
          if (Bound(specialty, preferred_[rotation.us_state], budget,
                    prefers_hands_on_ && rotation.patient_contact,
                    rotation.lor_offered,
                    rotation.max_seats) < threshold_.score) {
            skipped.emplace_back(r, r + 1);
            continue;
          }
        }
        Score(rotation, specialty, budget);
      }
    }
    for (const auto& [begin, end] : skipped) {
      if (!query_.exact_total && count_ > page_end_) break;
      for (uint32_t r = begin; r < end; ++r) {
        if (!query_.exact_total && count_ > page_end_) break;
        Count(index_.rotations_[r]);
      }
    }

    if (held_.size() > keep_) Trim();
    // Only the page needs an order; what comes before it only has to be
    // before it.
    auto better = [this](const Candidate& a, const Candidate& b) {
      return Better(a, b);
    };
    if (static_cast<size_t>(page_begin_) < held_.size()) {
      std::nth_element(held_.begin(), held_.begin() + page_begin_, held_.end(),
                       better);
      std::sort(held_.begin() + page_begin_, held_.end(), better);
    }
    RecommendResult result;
    result.total = static_cast<int>(
        query_.exact_total ? count_ : std::min(count_, page_end_ + 1));
    const size_t begin = std::min<size_t>(page_begin_, held_.size());
    const size_t end = std::min<size_t>(page_end_, held_.size());
    for (size_t i = begin; i < end; ++i) {
      const RecommendIndex::SessionRow& row =
          index_.sessions_[held_[i].session];
      Fill(index_.rotations_[row.rotation].entry->rotation, *row.session,
           held_[i].score, &result.recommendations.emplace_back());
    }
    return result;
  }

 private:
  using RotationRow = RecommendIndex::RotationRow;
  using SessionRow = RecommendIndex::SessionRow;

  static constexpr int8_t kUnknown = 0, kEligible = 1, kIneligible = 2;

  struct Candidate {
    double score;
    uint32_t session;  // into index_.sessions_
  };

  // "Today" in a site's zone, as the key DateKey would make of TodayIn's text
  // (-1 when that text is not a plain YYYY-MM-DD date: compare strings then).
  struct ZoneDay {
    bool known = false;
    int32_t key = -1;
    bool has_text = false;
    std::string text;
  };

  // Score descending, then session name: the order of the full ranking.
  bool Better(const Candidate& a, const Candidate& b) const {
    if (a.score != b.score) return a.score > b.score;
    return index_.sessions_[a.session].session->name() <
           index_.sessions_[b.session].session->name();
  }

  // The highest score a session could reach with these parts, `seats` free
  // seats and (where availability is stated) a fitting date: the same sum and
  // rounding as a real score, so never below one that the same or lesser parts
  // make.
  double Bound(double specialty, bool location, double budget, bool hands_on,
               bool letter, int32_t seats) const {
    ScoreParts parts =
        RotationParts(specialty, dated_, location, budget, hands_on, letter);
    parts.seats = SeatsPart(seats);
    return RoundScore(parts.total());
  }

  const ZoneDay& DayIn(uint32_t zone) {
    ZoneDay& day = zone_days_[zone];
    if (!day.known) {
      day.known = true;
      if (query_.now != absl::InfiniteFuture() &&
          query_.now != absl::InfinitePast()) {
        const absl::CivilDay civil =
            absl::ToCivilDay(query_.now, index_.tables_->zones[zone].time_zone);
        if (civil.year() >= 1000 && civil.year() <= 9999) {
          day.key = static_cast<int32_t>(civil.year() * 10000 +
                                         civil.month() * 100 + civil.day());
        }
      }
    }
    return day;
  }

  const std::string& TodayText(uint32_t zone) {
    ZoneDay& day = zone_days_[zone];
    if (!day.has_text) {
      day.text = TodayIn(index_.tables_->zones[zone].name, query_.now);
      day.has_text = true;
    }
    return day.text;
  }

  // AcceptingOn, on keys where both dates are well formed.
  bool Open(const RotationRow& rotation, int32_t today,
            const SessionRow& session) {
    if (rotation.zone == RecommendIndex::kNoZone) {
      return session.accepting_applications;
    }
    if (today < 0 || session.deadline < 0) {
      return TodayText(rotation.zone) <=
             session.session->application_deadline();
    }
    return today <= session.deadline;
  }

  // FitsAvailability, on keys where every date involved is well formed.
  bool Fits(const SessionRow& session) const {
    if (ranges_.empty()) return true;
    if (!ranges_ok_ || session.start < 0 || session.end < 0) {
      return FitsAvailability(applicant_, *session.session, nullptr);
    }
    for (const auto& [from, to] : ranges_) {
      if (from <= session.start && session.end <= to) return true;
    }
    return false;
  }

  bool Excluded(const SessionRow& session) const {
    // Most applicants have no live application: skip hashing the name then.
    return !query_.excluded_sessions.empty() &&
           query_.excluded_sessions.contains(session.session->name());
  }

  bool Eligible(uint32_t signature) {
    if (!eligibility_) return true;
    int8_t& known = eligible_[signature];
    if (known == kUnknown) {
      known = eligibility_(applicant_,
                           *index_.tables_->signature_rotations[signature])
                      .empty()
                  ? kEligible
                  : kIneligible;
    }
    return known == kEligible;
  }

  int32_t TodayKey(const RotationRow& rotation) {
    return rotation.zone == RecommendIndex::kNoZone ? -1
                                                    : DayIn(rotation.zone).key;
  }

  // Scores the rotation's candidate sessions and keeps those that may make the
  // page.
  void Score(const RotationRow& rotation, double specialty, double budget) {
    const int32_t today = TodayKey(rotation);
    const ScoreParts parts = RotationParts(
        specialty, dated_, preferred_[rotation.us_state], budget,
        prefers_hands_on_ && rotation.patient_contact, rotation.lor_offered);
    for (uint32_t i = rotation.first_session; i < rotation.end_session; ++i) {
      const SessionRow& session = index_.sessions_[i];
      if (!Open(rotation, today, session) || !Fits(session)) continue;
      if (!Eligible(rotation.signature)) return;
      ScoreParts session_parts = parts;
      session_parts.seats = SeatsPart(session.seats_available);
      const Candidate candidate{RoundScore(session_parts.total()), i};
      const bool keep = !full_ || Better(candidate, threshold_);
      // Neither the page nor the count needs it.
      if (!keep && !query_.exact_total && count_ > page_end_) continue;
      if (Excluded(session)) continue;
      ++count_;
      if (keep) Keep(candidate);
    }
  }

  // Counts the rotation's candidate sessions.
  void Count(const RotationRow& rotation) {
    const int32_t today = TodayKey(rotation);
    for (uint32_t i = rotation.first_session; i < rotation.end_session; ++i) {
      const SessionRow& session = index_.sessions_[i];
      if (!Open(rotation, today, session) || !Fits(session)) continue;
      if (!Eligible(rotation.signature)) return;
      if (Excluded(session)) continue;
      ++count_;
      if (!query_.exact_total && count_ > page_end_) return;
    }
  }

  void Keep(const Candidate& candidate) {
    held_.push_back(candidate);
    if (!full_) {
      if (held_.size() == keep_) {
        // The worst held is the keep_-th best so far.
        threshold_ =
            *std::max_element(held_.begin(), held_.end(),
                              [this](const Candidate& a, const Candidate& b) {
                                return Better(a, b);
                              });
        full_ = true;
      }
    } else if (held_.size() >= keep_ + std::max<size_t>(keep_, 32)) {
      Trim();
    }
  }

  // Drops all but the best keep_ held, which raises the threshold to the
  // keep_-th best so far.
  void Trim() {
    std::nth_element(held_.begin(), held_.begin() + (keep_ - 1), held_.end(),
                     [this](const Candidate& a, const Candidate& b) {
                       return Better(a, b);
                     });
    held_.resize(keep_);
    threshold_ = held_.back();
  }

  void Fill(const Rotation& rotation, const Session& session, double score,
            v1::Recommendation* r) const {
    const ScoreParts parts =
        ScoreFittingSession(applicant_, rotation, session, /*fits=*/true);
    r->set_session(session.name());
    r->set_rotation(rotation.name());
    r->set_score(score);
    for (std::string& reason :
         ExplainSession(applicant_, rotation, session, parts)) {
      r->add_reasons(std::move(reason));
    }
    r->set_rotation_title(rotation.title());
    r->set_site(rotation.site());
    r->set_site_display_name(rotation.site_display_name());
    r->set_city(rotation.city());
    r->set_us_state(rotation.us_state());
    r->set_specialty(rotation.specialty());
    r->set_experience_type(rotation.experience_type());
    r->set_setting(rotation.setting());
    *r->mutable_hands_on() = rotation.hands_on();
    r->set_duration_weeks(rotation.duration_weeks());
    r->set_start_date(session.start_date());
    r->set_end_date(session.end_date());
    r->set_application_deadline(session.application_deadline());
    r->set_total_fee_cents(rotation.fees().total_cents());
    r->set_seats_available(session.seats_available());
    r->set_lor_offered(rotation.lor_offered());
  }

  const Applicant& applicant_;
  const RecommendIndex& index_;
  const EligibilityCheck& eligibility_;
  const RecommendQuery& query_;
  const int64_t page_begin_;
  const int64_t page_end_;  // the page and everything before it: the top
                            // page_end_ of the ranking are needed
  const size_t keep_;       // how many of those can exist
  const int64_t budget_;
  const bool dated_;
  const bool located_;
  const bool prefers_hands_on_;
  std::vector<std::pair<int32_t, int32_t>> ranges_;
  bool ranges_ok_ = true;
  std::vector<ZoneDay> zone_days_;
  std::vector<int8_t> eligible_;
  std::vector<bool> preferred_;

  int64_t count_ = 0;  // candidates met (not all of them once the page is sure)
  std::vector<Candidate> held_;
  // Once keep_ candidates are held: a candidate no better than the threshold
  // cannot make the page.
  bool full_ = false;
  Candidate threshold_{0, 0};
};

RecommendResult Recommend(const Applicant& applicant,
                          const RecommendIndex& index,
                          const EligibilityCheck& eligibility,
                          const RecommendQuery& query) {
  return RecommendScan(applicant, index, eligibility, query).Run();
}

RecommendResult Recommend(const Applicant& applicant,
                          const std::vector<const CatalogRotation*>& catalog,
                          const EligibilityCheck& eligibility,
                          const RecommendQuery& query) {
  return Recommend(applicant, *RecommendIndex::Build(catalog), eligibility,
                   query);
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
