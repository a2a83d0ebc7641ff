#pragma once

// Recommendations: which open sessions suit an applicant, how well, and why.
//
// Plain C++ over protos: no gRPC, no Redis. The service feeds it the applicant
// (from the applicant service) and a view of the published catalog (from the
// catalog cache), and the recommender filters, scores and explains.
//
// Score, 0-100, as a sum of parts (the weights are an implementation detail;
// the proto promises only "higher is better"):
//   specialty interest   35  first choice 35, each later choice 4 less; not
//   listed 0 date fit             15  the session lies inside one of the stated
//   availability ranges preferred state      15  the site is in one of the
//   preferred states budget               15  at or under budget: 10 + 5 x
//   (share of the budget left);
//                            over: 10 x (1 - overrun / budget), at least 0
//   hands-on             10  the applicant prefers hands-on and the rotation
//   has patient contact letter               5   a letter of recommendation is
//   offered seats left           5   1 point per free seat, up to 5
// Parts that the applicant did not state (no interests, no availability, no
// preferred states, no budget) score 0 for every session, so they do not change
// the order.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/call_once.h"
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
};

struct RecommendResult {
  std::vector<v1::Recommendation> recommendations;
  // Candidates in the full ranking (so the caller knows whether another page
  // follows).
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

// Filters, scores and orders the candidates (score descending, then session
// name), and returns the requested page with reasons. `catalog` is read only
// during the call.
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
