#include "services/catalog/rotation_index.h"

#include <algorithm>
#include <tuple>

namespace clerkship::catalog {
namespace {

// The sort score of a rotation with no open session, ordered by start (catalog_lua.cc).
constexpr int64_t kNoStart = 99999999;

// Free seats of a session at now_ms: holds that have lapsed no longer count, swept or not.
int64_t AvailableAt(const IndexedSession& s, int64_t now_ms) {
  int64_t held = 0;
  for (int64_t expiry : s.hold_expiries_ms) held += expiry > now_ms ? 1 : 0;
  return std::max<int64_t>(0, s.capacity - held - s.confirmed);
}

// Posting lists are kept sorted, so that a query's terms intersect by merging lists instead
// of visiting every rotation of the shortest one.
void InsertSorted(std::vector<uint32_t>* list, uint32_t value) {
  auto it = std::lower_bound(list->begin(), list->end(), value);
  if (it == list->end() || *it != value) list->insert(it, value);
}

void EraseSorted(std::vector<uint32_t>* list, uint32_t value) {
  auto it = std::lower_bound(list->begin(), list->end(), value);
  if (it != list->end() && *it == value) list->erase(it);
}

}  // namespace

uint32_t RotationIndex::TermId(const std::string& term) {
  auto [it, inserted] = term_ids_.try_emplace(term, static_cast<uint32_t>(postings_.size()));
  if (inserted) postings_.emplace_back();
  return it->second;
}

void RotationIndex::Unpost(uint32_t slot) {
  Slot& s = slots_[slot];
  if (s.data.state != v1::Rotation::PUBLISHED) return;
  for (uint32_t term : s.term_ids) EraseSorted(&postings_[term], slot);
  EraseSorted(&published_, slot);
  s.term_ids.clear();
}

void RotationIndex::Post(uint32_t slot) {
  Slot& s = slots_[slot];
  if (s.data.state != v1::Rotation::PUBLISHED) return;
  for (const std::string& term : s.data.terms) s.term_ids.push_back(TermId(term));
  std::sort(s.term_ids.begin(), s.term_ids.end());
  s.term_ids.erase(std::unique(s.term_ids.begin(), s.term_ids.end()), s.term_ids.end());
  for (uint32_t term : s.term_ids) InsertSorted(&postings_[term], slot);
  InsertSorted(&published_, slot);
}

namespace {

std::shared_ptr<const RotationRecord> RecordOf(const IndexedRotation& indexed) {
  const v1::Rotation& rotation = indexed.rotation;
  auto record = std::make_shared<RotationRecord>();
  record->id = indexed.id;
  rotation.SerializeToString(&record->bytes);
  record->state = rotation.state();
  record->site = rotation.site();
  return record;
}

}  // namespace

bool RotationWire::ParseTo(v1::Rotation* out) const {
  return out->ParseFromString(record->bytes) && out->MergeFromString(computed);
}

void RotationIndex::Upsert(IndexedRotation rotation) {
  std::shared_ptr<const RotationRecord> record = RecordOf(rotation);
  auto it = slot_of_.find(rotation.id);
  uint32_t slot;
  if (it != slot_of_.end()) {
    slot = it->second;
    Slot& s = slots_[slot];
    // Only a change of state or terms moves the rotation between postings; seat changes
    // (the common case) leave them alone.
    bool repost = s.data.state != rotation.state || s.data.terms != rotation.terms;
    if (repost) Unpost(slot);
    s.data = std::move(rotation);
    s.record = std::move(record);
    SetHot(slot);
    if (repost) Post(slot);
    return;
  }
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
    hot_.emplace_back();
  }
  slot_of_[rotation.id] = slot;
  Slot& s = slots_[slot];
  s.data = std::move(rotation);
  s.record = std::move(record);
  s.live = true;
  SetHot(slot);
  Post(slot);
}

void RotationIndex::SetHot(uint32_t slot) {
  const IndexedRotation& data = slots_[slot].data;
  Hot& hot = hot_[slot];
  hot.fee_cents = data.fee_cents;
  // Big-endian and zero-padded, so the words compare as the bytes do (ids hold no NUL).
  hot.id_head[0] = hot.id_head[1] = 0;
  for (size_t i = 0; i < 16 && i < data.id.size(); ++i) {
    hot.id_head[i / 8] |= static_cast<uint64_t>(static_cast<unsigned char>(data.id[i]))
                          << (8 * (7 - i % 8));
  }
  hot.sessions.clear();
  for (const IndexedSession& s : data.sessions) {
    hot.sessions.push_back(
        {s.start_day, s.close_ms, s.capacity - s.confirmed, !s.hold_expiries_ms.empty()});
  }
}

int64_t RotationIndex::AvailableIn(uint32_t slot, size_t session, int64_t now_ms) const {
  const HotSession& hot = hot_[slot].sessions[session];
  if (!hot.has_holds) return std::max<int64_t>(0, hot.free_before_holds);
  return AvailableAt(slots_[slot].data.sessions[session], now_ms);
}

void RotationIndex::Remove(const std::string& rotation_id) {
  auto it = slot_of_.find(rotation_id);
  if (it == slot_of_.end()) return;
  uint32_t slot = it->second;
  Unpost(slot);
  slots_[slot] = Slot();
  hot_[slot] = Hot();
  free_slots_.push_back(slot);
  slot_of_.erase(it);
}

std::pair<int64_t, int64_t> RotationIndex::Computed(const Slot& slot, int64_t now_ms) {
  int64_t next_start = -1, seats = 0;
  for (const IndexedSession& s : slot.data.sessions) {
    if (now_ms >= s.close_ms) continue;
    seats += AvailableAt(s, now_ms);
    if (next_start < 0 || s.start_day < next_start) next_start = s.start_day;
  }
  return {next_start, seats};
}

v1::Rotation RotationIndex::ViewOf(const Slot& slot, int64_t now_ms) const {
  v1::Rotation out = slot.data.rotation;
  auto [next_start, seats] = Computed(slot, now_ms);
  if (next_start >= 0) out.set_next_start_date(DateOfDay(next_start));
  out.set_seats_available(static_cast<int32_t>(seats));
  return out;
}

RotationWire RotationIndex::WireOf(const Slot& slot, int64_t now_ms) const {
  auto [next_start, seats] = Computed(slot, now_ms);
  v1::Rotation computed;
  if (next_start >= 0) computed.set_next_start_date(DateOfDay(next_start));
  computed.set_seats_available(static_cast<int32_t>(seats));
  RotationWire out;
  out.record = slot.record;
  computed.SerializeToString(&out.computed);
  return out;
}

std::optional<StoredRotation> RotationIndex::View(const std::string& rotation_id,
                                                  absl::Time now) const {
  auto it = slot_of_.find(rotation_id);
  if (it == slot_of_.end()) return std::nullopt;
  const Slot& slot = slots_[it->second];
  StoredRotation out;
  out.rotation = ViewOf(slot, absl::ToUnixMillis(now));
  out.time_zone = slot.data.time_zone;
  return out;
}

std::optional<RotationWire> RotationIndex::ViewWire(const std::string& rotation_id,
                                                    absl::Time now) const {
  auto it = slot_of_.find(rotation_id);
  if (it == slot_of_.end()) return std::nullopt;
  return WireOf(slots_[it->second], absl::ToUnixMillis(now));
}

SearchPage RotationIndex::Search(const SearchQuery& query,
                                 const std::optional<SearchCursor>& cursor, int limit,
                                 absl::Time now) const {
  const int64_t now_ms = absl::ToUnixMillis(now);
  SearchPage page;

  // Candidates: the published rotations holding every term of the query, found by walking
  // the shortest posting list and advancing through the others (all ascending).
  std::vector<const std::vector<uint32_t>*> lists;
  for (const std::string& term : query.terms) {
    auto it = term_ids_.find(term);
    if (it == term_ids_.end()) return page;  // no rotation has this term
    lists.push_back(&postings_[it->second]);
  }
  std::sort(lists.begin(), lists.end(),
            [](const auto* a, const auto* b) { return a->size() < b->size(); });
  const std::vector<uint32_t>& shortest = lists.empty() ? published_ : *lists.front();
  std::vector<std::vector<uint32_t>::const_iterator> positions;
  for (size_t i = 1; i < lists.size(); ++i) positions.push_back(lists[i]->begin());
  auto in_every_list = [&](uint32_t slot) {
    for (size_t i = 0; i < positions.size(); ++i) {
      auto& at = positions[i];
      const auto end = lists[i + 1]->end();
      // Lists of similar length: a few steps forward usually reach the slot (predictable
      // branches, no jumping around); otherwise a binary search over the rest.
      for (int step = 0; step < 8 && at != end && *at < slot; ++step) ++at;
      if (at != end && *at < slot) at = std::lower_bound(at, end, slot);
      if (at == end || *at != slot) return false;
    }
    return true;
  };

  const bool window = query.start_from_day.has_value() || query.start_to_day.has_value();
  const bool needs_session = window || query.has_seats;
  const bool need_seats_sum = query.order == SearchOrder::kSeatsAvailable;
  // Equal keys are common (many rotations share a fee or a seat count), and ordering them
  // by id through the records would miss the cache at every comparison: the ids' first 16
  // bytes travel with the match, and the records are only read when those are equal.
  struct Match {
    int64_t key;
    uint64_t id_head[2];
    const std::string* id;
    uint32_t slot;
  };
  auto before = [](const Match& a, const Match& b) {
    if (a.key != b.key) return a.key < b.key;
    if (a.id_head[0] != b.id_head[0]) return a.id_head[0] < b.id_head[0];
    if (a.id_head[1] != b.id_head[1]) return a.id_head[1] < b.id_head[1];
    return *a.id < *b.id;
  };
  std::vector<Match> after_cursor;
  after_cursor.reserve(shortest.size());
  int32_t total = 0;
  for (uint32_t slot : shortest) {
    if (!positions.empty() && !in_every_list(slot)) continue;
    const Hot& hot = hot_[slot];
    if (query.max_total_fee_cents && hot.fee_cents > *query.max_total_fee_cents) continue;

    // The sessions that satisfy the filters: open, inside the window, with a free seat when
    // has_seats. The start order uses the earliest of them.
    int64_t earliest_match = -1, seats = 0;
    for (size_t i = 0; i < hot.sessions.size(); ++i) {
      const HotSession& session = hot.sessions[i];
      if (now_ms >= session.close_ms) continue;
      int64_t available = -1;
      if (need_seats_sum) {
        available = AvailableIn(slot, i, now_ms);
        seats += available;
      }
      if (query.start_from_day && session.start_day < *query.start_from_day) continue;
      if (query.start_to_day && session.start_day > *query.start_to_day) continue;
      if (query.has_seats) {
        if (available < 0) available = AvailableIn(slot, i, now_ms);
        if (available <= 0) continue;
      }
      if (earliest_match < 0 || session.start_day < earliest_match) {
        earliest_match = session.start_day;
      }
    }
    if (needs_session && earliest_match < 0) continue;

    int64_t key = 0;
    switch (query.order) {
      case SearchOrder::kStartDate: key = earliest_match < 0 ? kNoStart : earliest_match; break;
      case SearchOrder::kTotalFee: key = hot.fee_cents; break;
      case SearchOrder::kSeatsAvailable: key = seats > 0 ? -seats : 0; break;
    }
    ++total;
    const std::string& id = slots_[slot].data.id;
    if (cursor && (key < cursor->score || (key == cursor->score && id <= cursor->rotation_id))) {
      continue;
    }
    after_cursor.push_back({key, {hot.id_head[0], hot.id_head[1]}, &id, slot});
  }

  page.total_size = total;
  size_t wanted = static_cast<size_t>(std::max(limit, 0)) + 1;
  if (after_cursor.size() > wanted) {
    std::nth_element(after_cursor.begin(), after_cursor.begin() + (wanted - 1),
                     after_cursor.end(), before);
    after_cursor.resize(wanted);
  }
  std::sort(after_cursor.begin(), after_cursor.end(), before);
  if (after_cursor.size() > static_cast<size_t>(limit)) {
    page.more = true;
    after_cursor.resize(limit);
  }
  for (const Match& m : after_cursor) {
    page.rotations.push_back(WireOf(slots_[m.slot], now_ms));
    page.scores.push_back(m.key);
  }
  return page;
}

}  // namespace clerkship::catalog
