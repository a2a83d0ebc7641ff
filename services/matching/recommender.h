#pragma once

// Recommendations: which open sessions suit an applicant, how well, and why.
//
// Plain C++ over protos: no gRPC, no Redis. The service feeds it the applicant
// (from the applicant service) and a view of the published catalog (from the
// catalog cache), and the recommender filters, scores and explains.
//
// Score, 0-100, as a sum of parts (the weights are an implementation detail;
// the proto promises only "higher is better"):
// clang-format off
//   specialty interest 35  first choice 35, each later choice 4 less;
//                          not listed 0
//   date fit           15  the session lies inside one of the stated
//                          availability ranges
//   preferred state    15  the site is in one of the preferred states
//   budget             15  at or under budget: 10 + 5 x (share of the budget
//                          left); over: 10 x (1 - overrun / budget), at least 0
//   hands-on           10  the applicant prefers hands-on and the rotation has
//                          patient contact
//   letter              5  a letter of recommendation is offered
//   seats left          5  1 point per free seat, up to 5
// clang-format on
// Parts that the applicant did not state (no interests, no availability, no
// preferred states, no budget) score 0 for every session, so they do not change
// the order.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "clerkship/applicant/v1/applicant.pb.h"
#include "clerkship/catalog/v1/catalog.pb.h"
#include "clerkship/matching/v1/matching.pb.h"

namespace clerkship::matching {

// A session's dates as integers that compare like the "YYYY-MM-DD" strings
// (year * 10000 + month * 100 + day), -1 where a date is not in that form.
struct SessionDateKeys {
  int32_t start = -1;
  int32_t end = -1;
  int32_t deadline = -1;
};

// "YYYY-MM-DD" as year * 10000 + month * 100 + day; -1 for anything else.
int32_t DateKey(const std::string& date);

// A published rotation with its sessions, as the catalog cache keeps it.
struct CatalogRotation {
  CatalogRotation() = default;
  // Copies start without the date keys: the copy is usually about to change.
  CatalogRotation(const CatalogRotation& other)
      : rotation(other.rotation),
        site_time_zone(other.site_time_zone),
        sessions(other.sessions) {}
  CatalogRotation& operator=(const CatalogRotation&) = delete;

  catalog::v1::Rotation rotation;
  // The site's IANA time zone, in which application deadlines are days. Empty
  // when unknown: the session's own accepting_applications flag is used then.
  std::string site_time_zone;
  std::vector<catalog::v1::Session> sessions;

  // The sessions' date keys, computed on first use and kept: the recommender
  // compares integers it finds next to each other instead of reaching for three
  // strings per session. An entry must not change once it has been read this
  // way (the catalog cache replaces entries, it never changes them).
  const std::vector<SessionDateKeys>& DateKeys() const;

 private:
  mutable absl::once_flag date_keys_once_;
  mutable std::vector<SessionDateKeys> date_keys_;
};

// Why an applicant may not take a rotation (a CheckEligibility reason).
struct EligibilityProblem {
  std::string code;     // e.g. "ECFMG_REQUIRED"
  std::string message;  // plain words
};

// The eligibility engine, as the recommender sees it: every reason the
// applicant may not take the rotation; empty = eligible. Documents are not
// considered for recommendations.
using EligibilityCheck = std::function<std::vector<EligibilityProblem>(
    const applicant::v1::Applicant&, const catalog::v1::Rotation&)>;

struct RecommendQuery {
  absl::Time now;
  // Sessions the applicant already has a live application to; left out.
  absl::flat_hash_set<std::string> excluded_sessions;
  // The page: results [offset, offset + limit) of the full ranking.
  int offset = 0;
  int limit = 10;
  // Whether RecommendResult::total must be the exact size of the full ranking.
  // A caller that only needs to know whether another page follows sets it to
  // false: the scan may then stop as soon as the page and one more candidate
  // are certain, which is most of the speed of a recommendation.
  bool exact_total = true;
};

struct RecommendResult {
  std::vector<v1::Recommendation> recommendations;
  // Candidates in the full ranking (so the caller knows whether another page
  // follows). Without query.exact_total it is min(full count, offset + limit +
  // 1): still larger than offset + limit exactly when another page follows.
  int total = 0;
};

// Score parts of one session, kept apart so the reasons can be ordered by
// weight.
struct ScoreParts {
  double specialty = 0;
  double dates = 0;
  double location = 0;
  double budget = 0;
  double hands_on = 0;
  double letter = 0;
  double seats = 0;
  double total() const {
    return specialty + dates + location + budget + hands_on + letter + seats;
  }
};

// True when the whole session [start_date, end_date] lies inside one
// availability range, or when no availability is stated. Writes the range that
// fits (if any).
bool FitsAvailability(const applicant::v1::Applicant& applicant,
                      const catalog::v1::Session& session,
                      const type::v1::DateRange** fitting_range);

// True when the session is open for applications on `today_in_site_tz`
// ("YYYY-MM-DD").
bool AcceptingOn(const catalog::v1::Rotation& rotation,
                 const catalog::v1::Session& session,
                 const std::string& today_in_site_tz);

ScoreParts ScoreSession(const applicant::v1::Applicant& applicant,
                        const catalog::v1::Rotation& rotation,
                        const catalog::v1::Session& session);

// The reasons for a session's score in plain words, most important first.
std::vector<std::string> ExplainSession(
    const applicant::v1::Applicant& applicant,
    const catalog::v1::Rotation& rotation, const catalog::v1::Session& session,
    const ScoreParts& parts);

// The shared eligibility engine (common/eligibility) as recommendations use it:
// the applicant's "today" is in their own time zone, and documents are not
// considered, so the school-authorization rule (which depends on a document) is
// left out.
EligibilityCheck RecommendationEligibility(
    const applicant::v1::Applicant& applicant, absl::Time now);

class RecommendScan;

// The published catalog laid out for recommendations, built once per catalog
// version and then shared, read-only, by every Recommend call on it.
//
// A recommendation over the catalog protos costs milliseconds: string compares
// for time zones and states, the eligibility engine per rotation, and a cache
// miss per rotation and session. Here the strings that a scan compares are
// small interned integers, dates are integer keys, rotations that share what
// the eligibility engine reads of them share one eligibility answer per call,
// and rotations sit in one bucket per specialty ordered by fee. That order is
// what lets a scan stop early: the applicant's interests decide the best
// possible score of each bucket, and within a bucket the budget part can only
// fall as fees rise, so once a page is full the rest of a bucket is skipped
// when even its best possible score cannot reach the page.
//
// Only what can ever be recommended is indexed: published rotations, and of
// those the sessions with a free seat.
class RecommendIndex {
 public:
  // Indexes `catalog`. The entries must stay alive and unchanged while the
  // index is used; `owner`, when given, is held for exactly that (the catalog
  // cache passes its snapshot).
  //
  // `previous`, when given, is a still usable index of an earlier version of
  // the catalog: entries that are still there (the same objects, as the
  // catalog cache keeps unchanged entries) are taken from it without reading
  // them again. Reading ten thousand rotations scattered over the heap is most
  // of the cost of a build, and most catalog changes touch one rotation. Reuse
  // follows both lists in rotation name order (the cache's order); entries out
  // of that order are read afresh.
  static std::shared_ptr<const RecommendIndex> Build(
      const std::vector<const CatalogRotation*>& catalog,
      std::shared_ptr<const void> owner = nullptr,
      const RecommendIndex* previous = nullptr);

  RecommendIndex(const RecommendIndex&) = delete;
  RecommendIndex& operator=(const RecommendIndex&) = delete;

  // Indexed rotations and sessions (for tests and benchmarks).
  size_t rotation_count() const { return rotations_.size(); }
  size_t session_count() const { return sessions_.size(); }
  // Rotations taken from the previous index by Build.
  size_t reused_count() const { return reused_; }
  // The indexed rotations in the order a scan meets them: one run per
  // specialty (bucket_count() runs), by total fee within it. Early stops are
  // only right in this order.
  std::vector<const CatalogRotation*> ScanOrder() const;
  size_t bucket_count() const { return buckets_.size(); }
  // Distinct eligibility signatures known to the index: at most how often one
  // Recommend call asks the eligibility engine.
  size_t signature_count() const { return tables_->signature_rotations.size(); }

 private:
  friend class RecommendScan;

  RecommendIndex() = default;

  struct RotationRow {
    const CatalogRotation* entry = nullptr;
    int64_t total_fee_cents = 0;
    int32_t specialty = 0;
    uint32_t first_session = 0;  // rows [first_session, end_session)
    uint32_t end_session = 0;
    uint32_t signature = 0;  // into Tables::signature_rotations
    uint32_t zone = 0;       // into Tables::zones; kNoZone when unknown
    uint32_t us_state = 0;   // a Tables::us_state_ids value
    int32_t max_seats = 0;   // the most free seats of a session
    bool patient_contact = false;
    bool lor_offered = false;
  };
  struct SessionRow {
    // DateKey of start_date, end_date, application_deadline (-1: malformed,
    // judged on the strings then).
    int32_t start = -1;
    int32_t end = -1;
    int32_t deadline = -1;
    int32_t seats_available = 0;  // > 0
    uint32_t rotation = 0;        // into rotations_
    bool accepting_applications = false;
    const catalog::v1::Session* session = nullptr;
  };
  struct Bucket {
    int32_t specialty = 0;
    uint32_t begin = 0;  // rotations_ [begin, end), by total fee ascending
    uint32_t end = 0;
  };
  struct Zone {
    std::string name;
    absl::TimeZone time_zone;  // UTC where the name does not load
  };
  // The interned values. Only ever added to, so successive indexes share one
  // (copied when a build meets a new value) and reused rows keep their ids.
  struct Tables {
    std::vector<Zone> zones;  // zones[kNoZone] stands for "unknown"
    absl::flat_hash_map<std::string, uint32_t> zone_ids;
    absl::flat_hash_map<std::string, uint32_t> us_state_ids;
    absl::flat_hash_map<std::string, uint32_t> signature_ids;
    // Per signature, a rotation carrying just what the signature covers, to
    // ask the eligibility engine about all rotations of that signature at
    // once (owned here: the rotation it was taken from may be gone).
    std::vector<std::shared_ptr<const catalog::v1::Rotation>>
        signature_rotations;
  };
  static constexpr uint32_t kNoZone = 0;
  static constexpr uint32_t kNotIndexed = ~0u;

  std::shared_ptr<const void> owner_;
  std::shared_ptr<const Tables> tables_;
  std::vector<RotationRow> rotations_;
  std::vector<SessionRow> sessions_;
  std::vector<Bucket> buckets_;
  // The catalog as given, and the row of each entry (kNotIndexed when left
  // out): what the next Build reuses.
  std::vector<const CatalogRotation*> inputs_;
  std::vector<uint32_t> input_rows_;
  size_t reused_ = 0;
};

// Filters, scores and orders the candidates (score descending, then session
// name), and returns the requested page with reasons.
//
// `eligibility` is asked once per eligibility signature (the rotation's
// eligibility rules, experience type and patient contact, which is everything
// the eligibility engine reads of a published rotation), with a published
// rotation carrying just those fields; RecommendationEligibility is such a
// check.
RecommendResult Recommend(const applicant::v1::Applicant& applicant,
                          const RecommendIndex& index,
                          const EligibilityCheck& eligibility,
                          const RecommendQuery& query);

// The same over a plain list of entries (indexed for this one call); `catalog`
// is read only during the call.
RecommendResult Recommend(const applicant::v1::Applicant& applicant,
                          const std::vector<const CatalogRotation*>& catalog,
                          const EligibilityCheck& eligibility,
                          const RecommendQuery& query);

// Display helpers (exposed for tests).
std::string SpecialtyDisplayName(type::v1::Specialty specialty);
std::string UsStateDisplayName(const std::string& code);
// 240000 → "$2,400"; 240050 → "$2,400.50".
std::string FormatDollars(int64_t cents);

}  // namespace clerkship::matching
