#include "services/matching/algorithm/deferred_acceptance.h"

#include <algorithm>
#include <limits>

namespace clerkship::matching {
namespace {

constexpr int32_t kUnacceptable = std::numeric_limits<int32_t>::max();

// One tentatively accepted proposal: the session's rank of the applicant
// (lower is better) and who it is.
struct Held {
  int32_t rank;
  int32_t applicant;
};

// Each session keeps its held proposals in a max-heap on rank, so the
// weakest holder, the only one a newcomer can displace, is at the root.
void SiftUp(Held* heap, int32_t i) {
  const Held item = heap[i];
  while (i > 0) {
    const int32_t parent = (i - 1) / 2;
    if (heap[parent].rank >= item.rank) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = item;
}

void SiftDown(Held* heap, int32_t size, int32_t i) {
  const Held item = heap[i];
  while (true) {
    int32_t child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1].rank > heap[child].rank) ++child;
    if (heap[child].rank <= item.rank) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = item;
}

}  // namespace

Matching RunDeferredAcceptance(const Instance& instance) {
  return RunDeferredAcceptance(instance, BuildSessionPreferences(instance));
}

Matching RunDeferredAcceptance(const Instance& instance,
                               const SessionPreferences& prefs) {
  const int32_t num_applicants = instance.num_applicants();
  const int32_t num_sessions = instance.num_sessions();
  const int32_t num_entries = static_cast<int32_t>(instance.rank_lists.size());

  // entry_rank[e]: the rank that the session at rank-list entry e gives the
  // entry's applicant, or kUnacceptable; computed once so that a proposal
  // costs O(1) instead of a search through the session's ranking.
  //
  // First transpose the session orders into per-applicant lists of
  // (session, rank) with a counting sort; then, applicant by applicant, load
  // that list into a session-indexed scratch table (small enough to stay in
  // cache) and read off a rank for each entry of the applicant's own list.
  struct SessionRank {
    int32_t session;
    int32_t rank;
  };
  std::vector<int32_t> ranked_in_begin(num_applicants + 1, 0);
  for (int32_t s = 0; s < num_sessions; ++s) {
    for (int32_t applicant : prefs.Of(s)) ++ranked_in_begin[applicant + 1];
  }
  for (int32_t a = 0; a < num_applicants; ++a) {
    ranked_in_begin[a + 1] += ranked_in_begin[a];
  }
  std::vector<SessionRank> ranked_in(prefs.total_size());
  {
    std::vector<int32_t> fill(ranked_in_begin.begin(),
                              ranked_in_begin.end() - 1);
    for (int32_t s = 0; s < num_sessions; ++s) {
      IndexRange order = prefs.Of(s);
      for (size_t k = 0; k < order.size(); ++k) {
        ranked_in[fill[order[k]]++] = {s, static_cast<int32_t>(k)};
      }
    }
  }
  std::vector<int32_t> entry_rank(num_entries);
  {
    // Loaded and cleared per applicant, so the lookup needs no comparison
    // (the branch it would need is unpredictable).
    std::vector<int32_t> rank_at(num_sessions, kUnacceptable);
    for (int32_t a = 0; a < num_applicants; ++a) {
      const SessionRank* first = ranked_in.data() + ranked_in_begin[a];
      const SessionRank* last = ranked_in.data() + ranked_in_begin[a + 1];
      for (const SessionRank* p = first; p != last; ++p) {
        rank_at[p->session] = p->rank;
      }
      for (int32_t e = instance.rank_list_begin[a];
           e < instance.rank_list_begin[a + 1]; ++e) {
        entry_rank[e] = rank_at[instance.rank_lists[e]];
      }
      for (const SessionRank* p = first; p != last; ++p) {
        rank_at[p->session] = kUnacceptable;
      }
    }
  }

  // Per-session state in one record, so a proposal touches one cache line
  // before it knows whether it is accepted. Heap storage: a session never
  // holds more applicants than it finds acceptable, so capping there keeps
  // the total within the size of the session orders whatever capacities
  // say.
  struct SessionState {
    int32_t heap_begin;
    int32_t slots;
    int32_t held;
    // Rank of the weakest holder once full; lets most rejections skip the
    // heap entirely.
    int32_t weakest;
  };
  std::vector<SessionState> state(num_sessions);
  int32_t total_slots = 0;
  for (int32_t s = 0; s < num_sessions; ++s) {
    const int32_t acceptable = static_cast<int32_t>(prefs.Of(s).size());
    const int32_t slots = std::min(instance.session_capacity[s], acceptable);
    state[s] = {total_slots, slots, 0, -1};
    total_slots += slots;
  }
  std::vector<Held> held(total_slots);

  // next_choice[a]: the rank-list position a is proposing to or held at.
  std::vector<int32_t> next_choice(num_applicants, 0);
  std::vector<int32_t> free_applicants;
  free_applicants.reserve(num_applicants);
  for (int32_t a = num_applicants - 1; a >= 0; --a) {
    free_applicants.push_back(a);
  }

  const int32_t* rank_lists = instance.rank_lists.data();
  while (!free_applicants.empty()) {
    const int32_t a = free_applicants.back();
    free_applicants.pop_back();
    const int32_t list_begin = instance.rank_list_begin[a];
    const int32_t list_size = instance.rank_list_begin[a + 1] - list_begin;
    int32_t k = next_choice[a];
    for (; k < list_size; ++k) {
      const int32_t e = list_begin + k;
      const int32_t rank = entry_rank[e];
      if (rank == kUnacceptable) continue;
      SessionState& session = state[rank_lists[e]];
      if (session.held < session.slots) {
        Held* heap = held.data() + session.heap_begin;
        heap[session.held] = {rank, a};
        SiftUp(heap, session.held++);
        if (session.held == session.slots) session.weakest = heap[0].rank;
        break;
      }
      if (rank < session.weakest) {
        // Displace the session's weakest holder, who resumes proposing
        // from the choice after this one.
        Held* heap = held.data() + session.heap_begin;
        const int32_t displaced = heap[0].applicant;
        heap[0] = {rank, a};
        SiftDown(heap, session.slots, 0);
        session.weakest = heap[0].rank;
        ++next_choice[displaced];
        free_applicants.push_back(displaced);
        break;
      }
    }
    next_choice[a] = k;
  }

  Matching matching;
  matching.session_of_applicant.resize(num_applicants);
  for (int32_t a = 0; a < num_applicants; ++a) {
    const int32_t list_begin = instance.rank_list_begin[a];
    const bool held_somewhere =
        next_choice[a] < instance.rank_list_begin[a + 1] - list_begin;
    matching.session_of_applicant[a] =
        held_somewhere ? rank_lists[list_begin + next_choice[a]] : kUnmatched;
  }
  return matching;
}

}  // namespace clerkship::matching
