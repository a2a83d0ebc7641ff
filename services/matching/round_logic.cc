#include "services/matching/round_logic.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/status/validation.h"
#include "common/util/ids.h"
#include "services/matching/algorithm/round_stats.h"
#include "services/matching/algorithm/verify.h"

namespace clerkship::matching {

bool IsSessionName(const std::string& name) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  return parts.size() == 4 && parts[0] == "rotations" &&
         IsValidResourceId(parts[1]) && parts[2] == "sessions" &&
         IsValidResourceId(parts[3]);
}

std::string RotationOfSession(const std::string& session) {
  if (!IsSessionName(session)) return "";
  return session.substr(0, session.find("/sessions/"));
}

namespace {

// Checks a list of names: format, duplicates; one violation per bad entry.
void CheckNameList(Validator* v, absl::string_view field,
                   const google::protobuf::RepeatedPtrField<std::string>& names,
                   bool (*valid)(const std::string&), absl::string_view what) {
  absl::flat_hash_set<absl::string_view> seen;
  for (int i = 0; i < names.size(); ++i) {
    const std::string path = absl::StrCat(field, "[", i, "]");
    if (!valid(names[i])) {
      v->Add(path, absl::StrCat("must be ", what));
    } else if (!seen.insert(names[i]).second) {
      v->Add(path, absl::StrCat("duplicates an earlier entry: ", names[i]));
    }
  }
}

bool IsApplicantName(const std::string& name) {
  return !ResourceId(name, "applicants").empty();
}

}  // namespace

absl::Status ValidateCreateRound(const v1::CreateRoundRequest& request,
                                 absl::Time now) {
  Validator v;
  if (!v.Check(request.has_round(), "round", "is required")) return v.Finish();
  const v1::Round& round = request.round();
  v.RequireLength("round.display_name", round.display_name(), 1, 200);
  if (v.Check(
          round.sessions_size() >= 1 &&
              round.sessions_size() <= kMaxRoundSessions,
          "round.sessions",
          absl::StrCat("must list 1 to ", kMaxRoundSessions, " sessions"))) {
    CheckNameList(&v, "round.sessions", round.sessions(), IsSessionName,
                  "a session name \"rotations/{rotation}/sessions/{session}\"");
  }
  if (v.Check(round.has_rank_deadline(), "round.rank_deadline",
              "is required")) {
    v.Check(FromProtoTime(round.rank_deadline()) > now, "round.rank_deadline",
            "must be in the future");
  }
  v.Check(round.seed() >= 0, "round.seed", "must not be negative");
  v.RequireRange("round.max_ranks_per_applicant",
                 round.max_ranks_per_applicant(), 0, kMaxRanksLimit);
  if (!request.round_id().empty()) {
    v.Check(IsValidResourceId(request.round_id()), "round_id",
            "must be 1-63 lowercase letters, digits or hyphens");
  }
  if (!request.request_id().empty()) {
    v.Check(IsValidRequestId(request.request_id()), "request_id",
            "must be 1-64 characters of [A-Za-z0-9_-]");
  }
  return v.Finish();
}

absl::Status ValidateRankListRequest(const v1::SubmitRankListRequest& request) {
  Validator v;
  v.RequireName("round", request.round(), "rounds");
  v.RequireName("applicant", request.applicant(), "applicants");
  if (v.Check(request.sessions_size() <= kMaxRanksLimit, "sessions",
              absl::StrCat("must not list more than ", kMaxRanksLimit,
                           " sessions"))) {
    CheckNameList(&v, "sessions", request.sessions(), IsSessionName,
                  "a session name \"rotations/{rotation}/sessions/{session}\"");
  }
  return v.Finish();
}

absl::Status ValidateSessionRankingRequest(
    const v1::SubmitSessionRankingRequest& request) {
  Validator v;
  v.RequireName("round", request.round(), "rounds");
  v.Check(IsSessionName(request.session()), "session",
          "must be a session name \"rotations/{rotation}/sessions/{session}\"");
  if (v.Check(request.applicants_size() <= kMaxSessionRanking, "applicants",
              absl::StrCat("must not list more than ", kMaxSessionRanking,
                           " applicants"))) {
    CheckNameList(&v, "applicants", request.applicants(), IsApplicantName,
                  "an applicant name \"applicants/{applicant}\"");
  }
  return v.Finish();
}

absl::StatusOr<Instance> BuildRoundInstance(
    const StoredRoundInputs& inputs,
    const std::map<std::string, int32_t>& capacity) {
  RoundInput input;
  input.seed = static_cast<uint64_t>(inputs.round.seed());
  absl::flat_hash_set<std::string> in_round(inputs.sessions.begin(),
                                            inputs.sessions.end());
  absl::flat_hash_set<std::string> applicants;
  for (const auto& [applicant, sessions] : inputs.rank_lists) {
    ApplicantInput& a = input.applicants.emplace_back();
    a.id = applicant;
    // Submission only accepts the round's sessions; keep the instance valid
    // regardless.
    for (const std::string& s : sessions) {
      if (in_round.contains(s)) a.rank_list.push_back(s);
    }
    applicants.insert(applicant);
  }
  std::map<std::string, const std::vector<std::string>*> ranking_of;
  for (const auto& [session, ranking] : inputs.rankings)
    ranking_of[session] = &ranking;
  for (const std::string& session : inputs.sessions) {
    SessionInput& s = input.sessions.emplace_back();
    s.id = session;
    auto cap = capacity.find(session);
    s.capacity = cap == capacity.end() ? 0 : std::max(cap->second, 0);
    auto ranking = ranking_of.find(session);
    if (ranking != ranking_of.end()) {
      s.ranking = *ranking->second;
      for (const std::string& applicant : *ranking->second) {
        if (applicants.insert(applicant).second) {
          input.applicants.push_back({applicant, {}});
        }
      }
    }
  }
  return BuildInstance(input);
}

std::vector<v1::RoundResult> ResultsOf(const Instance& instance,
                                       const Matching& matching) {
  std::vector<v1::RoundResult> results;
  for (int32_t a = 0; a < instance.num_applicants(); ++a) {
    IndexRange list = instance.RankList(a);
    if (list.empty()) continue;
    v1::RoundResult& r = results.emplace_back();
    r.set_applicant(instance.applicant_ids[a]);
    const int32_t s = matching.session_of_applicant[a];
    if (s == kUnmatched) continue;
    r.set_session(instance.session_ids[s]);
    const auto it = std::find(list.begin(), list.end(), s);
    r.set_applicant_rank(static_cast<int32_t>(it - list.begin()) + 1);
  }
  // Applicant indices follow id byte order already; keep the promise explicit.
  std::sort(results.begin(), results.end(),
            [](const v1::RoundResult& x, const v1::RoundResult& y) {
              return x.applicant() < y.applicant();
            });
  return results;
}

std::string VerdictText(const Instance& instance, const Verdict& verdict) {
  if (verdict.stable()) {
    return absl::StrFormat("stable: %d seats, 0 blocking pairs",
                           instance.TotalSeats());
  }
  return absl::StrCat("not stable (",
                      std::string(ViolationName(verdict.violation)),
                      "): ", verdict.explanation);
}

v1::RoundStats StatsOf(const Instance& instance, const RoundOutcome& outcome,
                       absl::Duration match_duration,
                       absl::Duration run_duration) {
  const RoundStats& s = outcome.stats;
  v1::RoundStats stats;
  int32_t with_lists = 0;
  for (int32_t a = 0; a < instance.num_applicants(); ++a) {
    if (!instance.RankList(a).empty()) ++with_lists;
  }
  stats.set_applicants(with_lists);
  stats.set_sessions(s.sessions);
  stats.set_seats(static_cast<int32_t>(s.seats));
  stats.set_matched(s.matched);
  stats.set_unmatched(with_lists - s.matched);
  stats.set_fill_rate(s.fill_rate);
  stats.set_stable(outcome.verdict.stable());
  stats.set_verdict(VerdictText(instance, outcome.verdict));
  for (int32_t n : s.matches_by_choice) stats.add_rank_histogram(n);
  for (int32_t i = 0; i < instance.num_sessions(); ++i) {
    v1::RoundStats::SessionFill* fill = stats.add_session_fill();
    fill->set_session(instance.session_ids[i]);
    fill->set_capacity(instance.session_capacity[i]);
    fill->set_filled(s.filled_per_session[i]);
    fill->set_lottery(!instance.HasRanking(i));
  }
  stats.set_lottery_sessions(s.lottery_sessions);
  const int64_t match_nanos = absl::ToInt64Nanoseconds(match_duration);
  stats.mutable_match_duration()->set_seconds(match_nanos / 1000000000);
  stats.mutable_match_duration()->set_nanos(
      static_cast<int32_t>(match_nanos % 1000000000));
  const int64_t run_nanos = absl::ToInt64Nanoseconds(run_duration);
  stats.mutable_run_duration()->set_seconds(run_nanos / 1000000000);
  stats.mutable_run_duration()->set_nanos(
      static_cast<int32_t>(run_nanos % 1000000000));
  return stats;
}

absl::Status WithCode(const absl::Status& status, absl::StatusCode code) {
  absl::Status out(code, status.message());
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) {
        out.SetPayload(url, payload);
      });
  return out;
}

}  // namespace clerkship::matching
