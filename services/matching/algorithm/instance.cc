#include "services/matching/algorithm/instance.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/matching/algorithm/lottery.h"

namespace clerkship::matching {
namespace {

// Helpers take absl::string_view: Debian's Abseil is built with its own
// string_view rather than std::string_view, and StrCat wants Abseil's.

// Checks one compressed-row array: `begin` has rows + 1 non-decreasing
// offsets starting at 0 and ending at items.size().
absl::Status ValidateOffsets(absl::string_view what,
                             const std::vector<int32_t>& begin, size_t rows,
                             size_t items) {
  if (begin.size() != rows + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": expected ", rows + 1, " offsets, found ", begin.size()));
  }
  if (begin.front() != 0 || static_cast<size_t>(begin.back()) != items) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": offsets must run from 0 to ", items));
  }
  for (size_t i = 0; i < rows; ++i) {
    if (begin[i] > begin[i + 1]) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": offsets decrease at row ", i));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateIds(absl::string_view what,
                         const std::vector<std::string>& ids,
                         const std::vector<uint64_t>& lottery_keys) {
  if (lottery_keys.size() != ids.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " lottery keys: expected ", ids.size(), ", found ",
                     lottery_keys.size()));
  }
  std::unordered_set<std::string_view> seen;
  seen.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", i, " has an empty id"));
    }
    if (!seen.insert(ids[i]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " id \"", ids[i], "\" appears twice"));
    }
    if (lottery_keys[i] != StableIdHash(ids[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " ", ids[i], ": lottery key does not match the id"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int64_t Instance::TotalSeats() const {
  return std::accumulate(session_capacity.begin(), session_capacity.end(),
                         int64_t{0});
}

absl::Status ValidateInstance(const Instance& instance) {
  const size_t num_applicants = instance.applicant_ids.size();
  const size_t num_sessions = instance.session_ids.size();
  // Indices and offsets are int32_t; refuse anything that would overflow.
  constexpr size_t kMaxItems = std::numeric_limits<int32_t>::max();
  if (num_applicants >= kMaxItems || num_sessions >= kMaxItems ||
      instance.rank_lists.size() >= kMaxItems ||
      instance.session_rankings.size() >= kMaxItems) {
    return absl::InvalidArgumentError("round too large for 32-bit indices");
  }
  if (instance.session_capacity.size() != num_sessions ||
      instance.session_has_ranking.size() != num_sessions) {
    return absl::InvalidArgumentError(
        "session capacities and ranking flags must have one entry per "
        "session");
  }
  if (absl::Status s =
          ValidateOffsets("rank lists", instance.rank_list_begin,
                          num_applicants, instance.rank_lists.size());
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ValidateOffsets("session rankings", instance.session_ranking_begin,
                          num_sessions, instance.session_rankings.size());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateIds("applicant", instance.applicant_ids,
                                   instance.applicant_lottery_keys);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateIds("session", instance.session_ids,
                                   instance.session_lottery_keys);
      !s.ok()) {
    return s;
  }

  // Duplicate detection with a "last seen in row" stamp per item: one pass,
  // no clearing between rows.
  std::vector<int32_t> seen_in(num_sessions, -1);
  for (int32_t a = 0; a < static_cast<int32_t>(num_applicants); ++a) {
    for (int32_t session : instance.RankList(a)) {
      if (session < 0 || static_cast<size_t>(session) >= num_sessions) {
        return absl::InvalidArgumentError(absl::StrCat(
            "applicant ", instance.applicant_ids[a], " ranks session index ",
            session, ", which does not exist"));
      }
      if (seen_in[session] == a) {
        return absl::InvalidArgumentError(absl::StrCat(
            "applicant ", instance.applicant_ids[a], " ranks session ",
            instance.session_ids[session], " more than once"));
      }
      seen_in[session] = a;
    }
  }

  std::vector<int32_t> ranked_by(num_applicants, -1);
  for (int32_t s = 0; s < static_cast<int32_t>(num_sessions); ++s) {
    if (instance.session_capacity[s] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "session ", instance.session_ids[s], " has negative capacity ",
          instance.session_capacity[s]));
    }
    if (!instance.HasRanking(s) && !instance.SessionRanking(s).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "session ", instance.session_ids[s],
          " is marked as unranked (lottery) but carries a ranking"));
    }
    for (int32_t applicant : instance.SessionRanking(s)) {
      if (applicant < 0 || static_cast<size_t>(applicant) >= num_applicants) {
        return absl::InvalidArgumentError(absl::StrCat(
            "session ", instance.session_ids[s], " ranks applicant index ",
            applicant, ", which does not exist"));
      }
      if (ranked_by[applicant] == s) {
        return absl::InvalidArgumentError(absl::StrCat(
            "session ", instance.session_ids[s], " ranks applicant ",
            instance.applicant_ids[applicant], " more than once"));
      }
      ranked_by[applicant] = s;
    }
  }
  return absl::OkStatus();
}

int32_t InstanceBuilder::AddSession(std::string id, int32_t capacity) {
  instance_.session_ids.push_back(std::move(id));
  instance_.session_capacity.push_back(capacity);
  rankings_.emplace_back();
  return static_cast<int32_t>(instance_.session_ids.size() - 1);
}

int32_t InstanceBuilder::AddApplicant(std::string id,
                                      const std::vector<int32_t>& rank_list) {
  instance_.applicant_ids.push_back(std::move(id));
  instance_.rank_lists.insert(instance_.rank_lists.end(), rank_list.begin(),
                              rank_list.end());
  instance_.rank_list_begin.push_back(
      static_cast<int32_t>(instance_.rank_lists.size()));
  return static_cast<int32_t>(instance_.applicant_ids.size() - 1);
}

void InstanceBuilder::SetSessionRanking(int32_t session,
                                        std::vector<int32_t> ranking) {
  rankings_[session] = std::move(ranking);
}

absl::StatusOr<Instance> InstanceBuilder::Build() && {
  Instance instance = std::move(instance_);
  instance.session_has_ranking.assign(rankings_.size(), 0);
  instance.session_ranking_begin.assign(1, 0);
  instance.session_rankings.clear();
  for (size_t s = 0; s < rankings_.size(); ++s) {
    if (rankings_[s].has_value()) {
      instance.session_has_ranking[s] = 1;
      instance.session_rankings.insert(instance.session_rankings.end(),
                                       rankings_[s]->begin(),
                                       rankings_[s]->end());
    }
    instance.session_ranking_begin.push_back(
        static_cast<int32_t>(instance.session_rankings.size()));
  }
  rankings_.clear();
  instance.applicant_lottery_keys.resize(instance.applicant_ids.size());
  for (size_t a = 0; a < instance.applicant_ids.size(); ++a) {
    instance.applicant_lottery_keys[a] =
        StableIdHash(instance.applicant_ids[a]);
  }
  instance.session_lottery_keys.resize(instance.session_ids.size());
  for (size_t s = 0; s < instance.session_ids.size(); ++s) {
    instance.session_lottery_keys[s] = StableIdHash(instance.session_ids[s]);
  }
  if (absl::Status status = ValidateInstance(instance); !status.ok()) {
    return status;
  }
  return instance;
}

namespace {

// Input positions sorted by id, and the id -> index map that results.
template <typename Input, typename IdOf>
absl::Status IndexById(absl::string_view what, const std::vector<Input>& inputs,
                       IdOf id_of, std::vector<int32_t>* order,
                       std::unordered_map<std::string_view, int32_t>* index) {
  order->resize(inputs.size());
  std::iota(order->begin(), order->end(), 0);
  std::sort(order->begin(), order->end(), [&](int32_t x, int32_t y) {
    return id_of(inputs[x]) < id_of(inputs[y]);
  });
  index->reserve(inputs.size());
  for (size_t i = 0; i < order->size(); ++i) {
    const std::string& id = id_of(inputs[(*order)[i]]);
    if (id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, "[", (*order)[i], "]: id is empty"));
    }
    if (!index->emplace(id, static_cast<int32_t>(i)).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, "[", (*order)[i], "]: id \"", id, "\" appears more than once"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Instance> BuildInstance(const RoundInput& input) {
  std::vector<int32_t> session_order;
  std::unordered_map<std::string_view, int32_t> session_index;
  if (absl::Status s = IndexById(
          "sessions", input.sessions,
          [](const SessionInput& x) -> const std::string& { return x.id; },
          &session_order, &session_index);
      !s.ok()) {
    return s;
  }
  std::vector<int32_t> applicant_order;
  std::unordered_map<std::string_view, int32_t> applicant_index;
  if (absl::Status s = IndexById(
          "applicants", input.applicants,
          [](const ApplicantInput& x) -> const std::string& { return x.id; },
          &applicant_order, &applicant_index);
      !s.ok()) {
    return s;
  }

  InstanceBuilder builder(input.seed);
  for (int32_t position : session_order) {
    const SessionInput& session = input.sessions[position];
    if (session.capacity < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("sessions[", position, "] (", session.id,
                       "): capacity must not be negative"));
    }
    builder.AddSession(session.id, session.capacity);
  }

  // Stamp array: last applicant (or session) that listed each index, so a
  // duplicate is reported with both of its positions.
  std::vector<int32_t> listed_at(input.sessions.size(), -1);
  std::vector<int32_t> stamp(input.sessions.size(), -1);
  std::vector<int32_t> rank_list;
  for (int32_t position : applicant_order) {
    const ApplicantInput& applicant = input.applicants[position];
    rank_list.clear();
    for (size_t k = 0; k < applicant.rank_list.size(); ++k) {
      auto it = session_index.find(applicant.rank_list[k]);
      if (it == session_index.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "applicants[", position, "] (", applicant.id, "): rankList[", k,
            "] names \"", applicant.rank_list[k],
            "\", which is not a session of this round"));
      }
      if (stamp[it->second] == position) {
        return absl::InvalidArgumentError(absl::StrCat(
            "applicants[", position, "] (", applicant.id, "): rankList[", k,
            "] repeats \"", applicant.rank_list[k], "\" already at rankList[",
            listed_at[it->second], "]"));
      }
      stamp[it->second] = position;
      listed_at[it->second] = static_cast<int32_t>(k);
      rank_list.push_back(it->second);
    }
    builder.AddApplicant(applicant.id, rank_list);
  }

  listed_at.assign(input.applicants.size(), -1);
  stamp.assign(input.applicants.size(), -1);
  for (size_t i = 0; i < session_order.size(); ++i) {
    const int32_t position = session_order[i];
    const SessionInput& session = input.sessions[position];
    if (!session.ranking.has_value()) continue;
    std::vector<int32_t> ranking;
    ranking.reserve(session.ranking->size());
    for (size_t k = 0; k < session.ranking->size(); ++k) {
      const std::string& id = (*session.ranking)[k];
      auto it = applicant_index.find(id);
      if (it == applicant_index.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "sessions[", position, "] (", session.id, "): ranking[", k,
            "] names \"", id,
            "\", which is not an applicant of this round (list applicants "
            "without a rank list with an empty one)"));
      }
      if (stamp[it->second] == position) {
        return absl::InvalidArgumentError(
            absl::StrCat("sessions[", position, "] (", session.id,
                         "): ranking[", k, "] repeats \"", id,
                         "\" already at ranking[", listed_at[it->second], "]"));
      }
      stamp[it->second] = position;
      listed_at[it->second] = static_cast<int32_t>(k);
      ranking.push_back(it->second);
    }
    builder.SetSessionRanking(static_cast<int32_t>(i), std::move(ranking));
  }
  return std::move(builder).Build();
}

}  // namespace clerkship::matching
