#include "services/matching/algorithm/round_json.h"

#include <cstdint>
#include <limits>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace clerkship::matching {
namespace {

using Json = nlohmann::json;
// Insertion-ordered, so documents read in a sensible field order.
using OrderedJson = nlohmann::ordered_json;

absl::Status Invalid(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

absl::string_view TypeName(const Json& value) { return value.type_name(); }

// Parses text, turning nlohmann's exception into a status that carries its
// byte position. Exceptions stop here: nothing above this file sees one.
absl::StatusOr<Json> ParseText(std::string_view text) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& error) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: ", error.what()));
  }
}

// Rejects members outside `allowed`, naming the first stray one.
absl::Status CheckMembers(const Json& object, absl::string_view path,
                          std::initializer_list<absl::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (absl::string_view name : allowed) known = known || key == name;
    if (!known) {
      return Invalid(path, absl::StrCat("unknown field \"", key, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadId(const Json& value, absl::string_view path) {
  if (!value.is_string()) {
    return Invalid(
        path, absl::StrCat("expected a string id, found ", TypeName(value)));
  }
  std::string id = value.get<std::string>();
  if (id.empty()) return Invalid(path, "id must not be empty");
  return id;
}

// Reads an array of ids at object[key]; `path` names the object.
absl::StatusOr<std::vector<std::string>> ReadIdList(const Json& list,
                                                    const std::string& path) {
  if (!list.is_array()) {
    return Invalid(path,
                   absl::StrCat("expected an array, found ", TypeName(list)));
  }
  std::vector<std::string> ids;
  ids.reserve(list.size());
  for (size_t k = 0; k < list.size(); ++k) {
    const Json& item = list[k];
    // Fast path without building a path string: lists hold ~600k ids.
    if (item.is_string() && !item.get_ref<const std::string&>().empty()) {
      ids.push_back(item.get<std::string>());
      continue;
    }
    return ReadId(item, absl::StrCat(path, "[", k, "]")).status();
  }
  return ids;
}

absl::StatusOr<uint64_t> ReadSeed(const Json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_string()) {
    // proto3's JSON mapping writes uint64 as a string, and jq-style tools
    // round large numbers through doubles; accept the string form.
    const std::string& text = value.get_ref<const std::string&>();
    uint64_t seed = 0;
    const bool digits_only =
        !text.empty() &&
        text.find_first_not_of("0123456789") == std::string::npos;
    if (digits_only && absl::SimpleAtoi(text, &seed)) return seed;
    return Invalid(
        "seed",
        absl::StrCat("\"", text, "\" is not an unsigned 64-bit integer"));
  }
  return Invalid("seed",
                 absl::StrCat("expected an unsigned integer or a "
                              "decimal string, found ",
                              value.is_number_integer() ? "a negative number"
                                                        : TypeName(value)));
}

absl::StatusOr<SessionInput> ReadSession(const Json& value, size_t index) {
  const std::string path = absl::StrCat("sessions[", index, "]");
  if (!value.is_object()) {
    return Invalid(path,
                   absl::StrCat("expected an object, found ", TypeName(value)));
  }
  if (absl::Status s =
          CheckMembers(value, path, {"session", "capacity", "ranking"});
      !s.ok()) {
    return s;
  }
  SessionInput session;
  auto id = value.find("session");
  if (id == value.end()) return Invalid(path, "missing \"session\"");
  absl::StatusOr<std::string> session_id =
      ReadId(*id, absl::StrCat(path, ".session"));
  if (!session_id.ok()) return session_id.status();
  session.id = *std::move(session_id);

  auto capacity = value.find("capacity");
  if (capacity == value.end()) return Invalid(path, "missing \"capacity\"");
  if (!capacity->is_number_integer() ||
      (capacity->is_number_unsigned()
           ? capacity->get<uint64_t>() >
                 static_cast<uint64_t>(std::numeric_limits<int32_t>::max())
           : capacity->get<int64_t>() < 0)) {
    return Invalid(absl::StrCat(path, ".capacity"),
                   "expected a non-negative 32-bit integer");
  }
  session.capacity = capacity->get<int32_t>();

  auto ranking = value.find("ranking");
  if (ranking != value.end()) {
    absl::StatusOr<std::vector<std::string>> ids =
        ReadIdList(*ranking, absl::StrCat(path, ".ranking"));
    if (!ids.ok()) return ids.status();
    session.ranking = *std::move(ids);
  }
  return session;
}

absl::StatusOr<ApplicantInput> ReadApplicant(const Json& value, size_t index) {
  const std::string path = absl::StrCat("applicants[", index, "]");
  if (!value.is_object()) {
    return Invalid(path,
                   absl::StrCat("expected an object, found ", TypeName(value)));
  }
  if (absl::Status s = CheckMembers(value, path, {"applicant", "rankList"});
      !s.ok()) {
    return s;
  }
  ApplicantInput applicant;
  auto id = value.find("applicant");
  if (id == value.end()) return Invalid(path, "missing \"applicant\"");
  absl::StatusOr<std::string> applicant_id =
      ReadId(*id, absl::StrCat(path, ".applicant"));
  if (!applicant_id.ok()) return applicant_id.status();
  applicant.id = *std::move(applicant_id);

  // Required even when empty: a missing list is more likely a misspelling
  // than an applicant who deliberately ranked nothing.
  auto list = value.find("rankList");
  if (list == value.end()) return Invalid(path, "missing \"rankList\"");
  absl::StatusOr<std::vector<std::string>> ids =
      ReadIdList(*list, absl::StrCat(path, ".rankList"));
  if (!ids.ok()) return ids.status();
  applicant.rank_list = *std::move(ids);
  return applicant;
}

std::string Dump(const OrderedJson& document, int indent) {
  // Replace rather than throw on invalid UTF-8 in an id that did not come
  // through the JSON parser (which already rejects it).
  return document.dump(indent, ' ', /*ensure_ascii=*/false,
                       OrderedJson::error_handler_t::replace) +
         "\n";
}

}  // namespace

absl::StatusOr<RoundInput> ParseRoundInputJson(std::string_view json) {
  absl::StatusOr<Json> parsed = ParseText(json);
  if (!parsed.ok()) return parsed.status();
  const Json& root = *parsed;
  if (!root.is_object()) {
    return Invalid("document", absl::StrCat("expected a JSON object, found ",
                                            TypeName(root)));
  }
  if (absl::Status s =
          CheckMembers(root, "document",
                       {"format", "round", "seed", "sessions", "applicants"});
      !s.ok()) {
    return s;
  }
  if (auto format = root.find("format"); format != root.end()) {
    if (!format->is_string() || format->get<std::string>() != kRoundFormat) {
      return Invalid("format", absl::StrCat("expected \"", kRoundFormat,
                                            "\", found ", format->dump()));
    }
  }
  if (auto name = root.find("round");
      name != root.end() && !name->is_string()) {
    return Invalid("round", "expected the round's name as a string");
  }

  RoundInput input;
  auto seed = root.find("seed");
  if (seed == root.end()) return Invalid("document", "missing \"seed\"");
  absl::StatusOr<uint64_t> seed_value = ReadSeed(*seed);
  if (!seed_value.ok()) return seed_value.status();
  input.seed = *seed_value;

  auto sessions = root.find("sessions");
  if (sessions == root.end())
    return Invalid("document", "missing \"sessions\"");
  if (!sessions->is_array()) {
    return Invalid("sessions", absl::StrCat("expected an array, found ",
                                            TypeName(*sessions)));
  }
  input.sessions.reserve(sessions->size());
  for (size_t i = 0; i < sessions->size(); ++i) {
    absl::StatusOr<SessionInput> session = ReadSession((*sessions)[i], i);
    if (!session.ok()) return session.status();
    input.sessions.push_back(*std::move(session));
  }

  auto applicants = root.find("applicants");
  if (applicants == root.end()) {
    return Invalid("document", "missing \"applicants\"");
  }
  if (!applicants->is_array()) {
    return Invalid("applicants", absl::StrCat("expected an array, found ",
                                              TypeName(*applicants)));
  }
  input.applicants.reserve(applicants->size());
  for (size_t i = 0; i < applicants->size(); ++i) {
    absl::StatusOr<ApplicantInput> applicant =
        ReadApplicant((*applicants)[i], i);
    if (!applicant.ok()) return applicant.status();
    input.applicants.push_back(*std::move(applicant));
  }
  return input;
}

absl::StatusOr<Instance> ParseRoundJson(std::string_view json) {
  absl::StatusOr<RoundInput> input = ParseRoundInputJson(json);
  if (!input.ok()) return input.status();
  return BuildInstance(*input);
}

std::string WriteRoundJson(const Instance& instance, int indent) {
  OrderedJson sessions = OrderedJson::array();
  for (int32_t s = 0; s < instance.num_sessions(); ++s) {
    OrderedJson session = {{"session", instance.session_ids[s]},
                           {"capacity", instance.session_capacity[s]}};
    if (instance.HasRanking(s)) {
      OrderedJson ranking = OrderedJson::array();
      for (int32_t a : instance.SessionRanking(s)) {
        ranking.push_back(instance.applicant_ids[a]);
      }
      session["ranking"] = std::move(ranking);
    }
    sessions.push_back(std::move(session));
  }
  OrderedJson applicants = OrderedJson::array();
  for (int32_t a = 0; a < instance.num_applicants(); ++a) {
    OrderedJson list = OrderedJson::array();
    for (int32_t s : instance.RankList(a)) {
      list.push_back(instance.session_ids[s]);
    }
    applicants.push_back({{"applicant", instance.applicant_ids[a]},
                          {"rankList", std::move(list)}});
  }
  OrderedJson document;
  document["format"] = kRoundFormat;
  document["seed"] = std::to_string(instance.seed);
  document["sessions"] = std::move(sessions);
  document["applicants"] = std::move(applicants);
  return Dump(document, indent);
}

std::string WriteRoundOutcomeJson(const Instance& instance,
                                  const RoundOutcome& outcome, int indent) {
  const std::vector<int32_t>& placed = outcome.matching.session_of_applicant;
  auto session_id = [&](int32_t s) -> std::string {
    return s >= 0 && s < instance.num_sessions() ? instance.session_ids[s]
                                                 : absl::StrCat("#", s);
  };
  OrderedJson matches = OrderedJson::array();
  OrderedJson unmatched = OrderedJson::array();
  for (int32_t a = 0; a < instance.num_applicants(); ++a) {
    const int32_t s =
        a < static_cast<int32_t>(placed.size()) ? placed[a] : kUnmatched;
    if (s == kUnmatched) {
      unmatched.push_back(instance.applicant_ids[a]);
    } else {
      matches.push_back({{"applicant", instance.applicant_ids[a]},
                         {"session", session_id(s)}});
    }
  }

  const RoundStats& stats = outcome.stats;
  OrderedJson by_choice = OrderedJson::array();
  for (size_t k = 0; k < stats.matches_by_choice.size(); ++k) {
    by_choice.push_back(
        {{"choice", k + 1}, {"applicants", stats.matches_by_choice[k]}});
  }
  OrderedJson session_fill = OrderedJson::array();
  for (int32_t s = 0; s < instance.num_sessions(); ++s) {
    const int32_t filled =
        s < static_cast<int32_t>(stats.filled_per_session.size())
            ? stats.filled_per_session[s]
            : 0;
    session_fill.push_back({{"session", instance.session_ids[s]},
                            {"capacity", instance.session_capacity[s]},
                            {"filled", filled}});
  }
  OrderedJson stats_json = {
      {"applicants", stats.applicants},
      {"sessions", stats.sessions},
      {"lotterySessions", stats.lottery_sessions},
      {"seats", stats.seats},
      {"matched", stats.matched},
      {"unmatched", stats.unmatched},
      {"filledSeats", stats.matched},
      {"fillRate", stats.fill_rate},
      {"matchesByChoice", std::move(by_choice)},
      {"sessionFill", std::move(session_fill)},
  };

  const Verdict& verdict = outcome.verdict;
  OrderedJson verdict_json = {
      {"stable", verdict.stable()},
      {"violation", std::string(ViolationName(verdict.violation))},
  };
  if (verdict.applicant >= 0 && verdict.applicant < instance.num_applicants()) {
    verdict_json["applicant"] = instance.applicant_ids[verdict.applicant];
  }
  if (verdict.session >= 0 && verdict.session < instance.num_sessions()) {
    verdict_json["session"] = instance.session_ids[verdict.session];
  }
  verdict_json["explanation"] = verdict.explanation;

  OrderedJson document;
  document["matches"] = std::move(matches);
  document["unmatched"] = std::move(unmatched);
  document["stats"] = std::move(stats_json);
  document["verdict"] = std::move(verdict_json);
  return Dump(document, indent);
}

absl::StatusOr<Matching> ParseMatchesJson(const Instance& instance,
                                          std::string_view result_json) {
  absl::StatusOr<Json> parsed = ParseText(result_json);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) {
    return Invalid("document", absl::StrCat("expected a JSON object, found ",
                                            TypeName(*parsed)));
  }
  auto matches = parsed->find("matches");
  if (matches == parsed->end())
    return Invalid("document", "missing \"matches\"");
  if (!matches->is_array()) {
    return Invalid("matches", absl::StrCat("expected an array, found ",
                                           TypeName(*matches)));
  }

  std::unordered_map<std::string_view, int32_t> applicant_index;
  std::unordered_map<std::string_view, int32_t> session_index;
  applicant_index.reserve(instance.applicant_ids.size());
  session_index.reserve(instance.session_ids.size());
  for (int32_t a = 0; a < instance.num_applicants(); ++a) {
    applicant_index.emplace(instance.applicant_ids[a], a);
  }
  for (int32_t s = 0; s < instance.num_sessions(); ++s) {
    session_index.emplace(instance.session_ids[s], s);
  }

  Matching matching;
  matching.session_of_applicant.assign(instance.num_applicants(), kUnmatched);
  for (size_t i = 0; i < matches->size(); ++i) {
    const Json& match = (*matches)[i];
    const std::string path = absl::StrCat("matches[", i, "]");
    if (!match.is_object()) {
      return Invalid(
          path, absl::StrCat("expected an object, found ", TypeName(match)));
    }
    auto applicant = match.find("applicant");
    auto session = match.find("session");
    if (applicant == match.end() || session == match.end()) {
      return Invalid(path, "needs \"applicant\" and \"session\"");
    }
    absl::StatusOr<std::string> applicant_id =
        ReadId(*applicant, absl::StrCat(path, ".applicant"));
    if (!applicant_id.ok()) return applicant_id.status();
    absl::StatusOr<std::string> session_id =
        ReadId(*session, absl::StrCat(path, ".session"));
    if (!session_id.ok()) return session_id.status();
    auto a = applicant_index.find(*applicant_id);
    if (a == applicant_index.end()) {
      return Invalid(path, absl::StrCat("\"", *applicant_id,
                                        "\" is not an applicant of the round"));
    }
    auto s = session_index.find(*session_id);
    if (s == session_index.end()) {
      return Invalid(path, absl::StrCat("\"", *session_id,
                                        "\" is not a session of the round"));
    }
    if (matching.session_of_applicant[a->second] != kUnmatched) {
      return Invalid(path, absl::StrCat("\"", *applicant_id,
                                        "\" is matched more than once"));
    }
    matching.session_of_applicant[a->second] = s->second;
  }
  return matching;
}

}  // namespace clerkship::matching
