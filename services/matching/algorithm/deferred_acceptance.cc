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

  // Group rank-list entries by session (counting sort) so each session's
  // rank of each applicant who proposes to it can be looked up once, up
  // front, instead of searching its ranking on every proposal.
  std::vector<int32_t> by_session_begin(num_sessions + 1, 0);
  for (int32_t session : instance.rank_lists) ++by_session_begin[session + 1];
  for (int32_t s = 0; s < num_sessions; ++s) {
    by_session_begin[s + 1] += by_session_begin[s];
  }
  std::vector<int32_t> entries_by_session(num_entries);
  std::vector<int32_t> entry_applicant(num_entries);
  {
    std::vector<int32_t> fill(by_session_begin.begin(),
                              by_session_begin.end() - 1);
    for (int32_t a = 0; a < num_applicants; ++a) {
      for (int32_t e = instance.rank_list_begin[a];
           e < instance.rank_list_begin[a + 1]; ++e) {
        entry_applicant[e] = a;
        entries_by_session[fill[instance.rank_lists[e]]++] = e;
      }
    }
  }

  // entry_rank[e]: the rank that the session at rank-list entry e gives the
  // entry's applicant, or kUnacceptable. A scratch array indexed by
  // applicant turns each session's ranking into a lookup table in turn.
  std::vector<int32_t> entry_rank(num_entries);
  {
    std::vector<int32_t> rank_of(num_applicants, kUnacceptable);
    for (int32_t s = 0; s < num_sessions; ++s) {
      IndexRange order = prefs.Of(s);
      for (size_t k = 0; k < order.size(); ++k) {
        rank_of[order[k]] = static_cast<int32_t>(k);
      }
      for (int32_t i = by_session_begin[s]; i < by_session_begin[s + 1]; ++i) {
        const int32_t e = entries_by_session[i];
        entry_rank[e] = rank_of[entry_applicant[e]];
      }
      for (int32_t applicant : order) rank_of[applicant] = kUnacceptable;
    }
  }

  // Heap storage: a session can never hold more proposals than there are
  // applicants who ranked it, so capping there keeps the total within the
  // entry count whatever capacities say.
  std::vector<int32_t> slot_begin(num_sessions + 1, 0);
  for (int32_t s = 0; s < num_sessions; ++s) {
    const int32_t proposers = by_session_begin[s + 1] - by_session_begin[s];
    slot_begin[s + 1] =
        slot_begin[s] + std::min(instance.session_capacity[s], proposers);
  }
  std::vector<Held> held(slot_begin[num_sessions]);
  std::vector<int32_t> held_count(num_sessions, 0);

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
      const int32_t s = rank_lists[e];
      Held* heap = held.data() + slot_begin[s];
      const int32_t slots = slot_begin[s + 1] - slot_begin[s];
      if (held_count[s] < slots) {
        heap[held_count[s]] = {rank, a};
        SiftUp(heap, held_count[s]++);
        break;
      }
      if (slots > 0 && rank < heap[0].rank) {
        // Displace the session's weakest holder, who resumes proposing
        // from the choice after this one.
        const int32_t displaced = heap[0].applicant;
        heap[0] = {rank, a};
        SiftDown(heap, slots, 0);
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
