#include "services/matching/catalog_cache.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clerkship/events/v1/events.pb.h"
#include "common/events/events.h"
#include "common/logging/log.h"

namespace clerkship::matching {
namespace {

using catalog::v1::Rotation;
using catalog::v1::Session;

// "rotations/r/sessions/s" → "rotations/r".
std::string RotationOfSession(const std::string& session) {
  size_t cut = session.find("/sessions/");
  return cut == std::string::npos ? std::string() : session.substr(0, cut);
}

constexpr int kPageSize = 100;

}  // namespace

CatalogCache::CatalogCache(CatalogClient* catalog, CatalogCacheOptions options)
    : catalog_(catalog), options_(std::move(options)) {
  redis::ClientOptions ro = options_.redis;
  ro.connections = 1;
  ro.command_timeout =
      std::max(ro.command_timeout, options_.block + absl::Seconds(2));
  redis_ = redis::Client::Create(std::move(ro));
}

CatalogCache::~CatalogCache() { Stop(); }

void CatalogCache::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void CatalogCache::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool CatalogCache::WaitReady(absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  while (!ready_.load()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

void CatalogCache::Run() {
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop_) {
    absl::Status status;
    if (absl::Now() - last_load_ >= options_.refresh_interval) {
      status = LoadAll();
    } else {
      status = PollOnce(options_.block).status();
    }
    if (!status.ok()) {
      log::Warning("catalog cache pass failed; retrying",
                   {{"error", std::string(status.message())}});
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(2));
    } else {
      backoff = absl::Milliseconds(100);
    }
  }
}

absl::Status CatalogCache::LoadAll() {
  if (!redis_->healthy() && !redis_->WaitHealthy(absl::Seconds(1))) {
    return absl::UnavailableError("redis is unavailable");
  }
  // The position first: whatever changes while we read is replayed afterwards.
  auto last = redis_->CommandSync(
      {"XREVRANGE", options_.stream, "+", "-", "COUNT", "1"});
  if (!last.ok()) return last.status();
  if (last->is_error()) return redis::ErrorReplyStatus(*last);
  std::string position = "0-0";
  std::vector<events::StreamEntry> entries = events::ParseEntries(*last);
  if (!entries.empty()) position = entries.front().id;

  absl::btree_map<std::string, std::shared_ptr<const CatalogRotation>> loaded;
  catalog::v1::SearchRotationsRequest search;
  search.set_page_size(kPageSize);
  do {
    absl::StatusOr<catalog::v1::SearchRotationsResponse> page =
        catalog_->SearchRotationsSync(search);
    if (!page.ok()) return page.status();
    for (const Rotation& rotation : page->rotations()) {
      absl::StatusOr<std::shared_ptr<CatalogRotation>> entry =
          FetchRotation(rotation);
      if (!entry.ok()) return entry.status();
      loaded[rotation.name()] = std::move(*entry);
    }
    search.set_page_token(page->next_page_token());
  } while (!search.page_token().empty() && !stop_);

  {
    absl::MutexLock lock(&mu_);
    rotations_ = std::move(loaded);
    InvalidateLocked();
  }
  {
    // Every entry is new, so the last view has nothing left to lend the next
    // one; dropping it frees the previous catalog now rather than at the next
    // recommendation.
    absl::MutexLock build_lock(&view_build_mu_);
    last_view_.reset();
  }
  position_ = position;
  last_load_ = absl::Now();
  loads_++;
  ready_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::string> CatalogCache::SiteTimeZone(
    const std::string& site) {
  {
    absl::MutexLock lock(&mu_);
    auto it = site_zones_.find(site);
    if (it != site_zones_.end()) return it->second;
  }
  absl::StatusOr<catalog::v1::Site> fetched = catalog_->GetSiteSync(site);
  if (!fetched.ok()) return fetched.status();
  absl::MutexLock lock(&mu_);
  site_zones_[site] = fetched->time_zone();
  return fetched->time_zone();
}

absl::StatusOr<std::shared_ptr<CatalogRotation>> CatalogCache::FetchRotation(
    const Rotation& rotation) {
  auto entry = std::make_shared<CatalogRotation>();
  entry->rotation = rotation;
  absl::StatusOr<std::string> zone = SiteTimeZone(rotation.site());
  if (zone.ok()) {
    entry->site_time_zone = *zone;
  } else if (!absl::IsNotFound(zone.status())) {
    return zone.status();
  }
  catalog::v1::ListSessionsRequest list;
  list.set_parent(rotation.name());
  list.set_page_size(kPageSize);
  do {
    absl::StatusOr<catalog::v1::ListSessionsResponse> page =
        catalog_->ListSessionsSync(list);
    if (!page.ok()) return page.status();
    for (const Session& s : page->sessions()) entry->sessions.push_back(s);
    list.set_page_token(page->next_page_token());
  } while (!list.page_token().empty());
  return entry;
}

absl::Status CatalogCache::RefreshRotation(const std::string& name) {
  absl::StatusOr<Rotation> rotation = catalog_->GetRotationSync(name);
  if (absl::IsNotFound(rotation.status())) {
    Erase(name);
    return absl::OkStatus();
  }
  if (!rotation.ok()) return rotation.status();
  if (rotation->state() != Rotation::PUBLISHED) {
    Erase(name);
    return absl::OkStatus();
  }
  absl::StatusOr<std::shared_ptr<CatalogRotation>> entry =
      FetchRotation(*rotation);
  if (!entry.ok()) return entry.status();
  Upsert(std::move(*entry));
  return absl::OkStatus();
}

absl::StatusOr<int> CatalogCache::PollOnce(absl::Duration block) {
  if (!redis_->healthy() && !redis_->WaitHealthy(absl::Seconds(1))) {
    return absl::UnavailableError("redis is unavailable");
  }
  std::vector<std::string> cmd = {"XREAD", "COUNT",
                                  absl::StrCat(options_.batch_size)};
  if (block > absl::ZeroDuration()) {
    cmd.push_back("BLOCK");
    cmd.push_back(absl::StrCat(absl::ToInt64Milliseconds(block)));
  }
  cmd.insert(cmd.end(), {"STREAMS", options_.stream, position_});
  auto reply = redis_->CommandSync(std::move(cmd));
  if (!reply.ok()) return reply.status();
  if (reply->is_error()) return redis::ErrorReplyStatus(*reply);
  if (!reply->is_array() || reply->elements.empty()) return 0;
  const redis::Reply& stream = reply->elements[0];
  if (!stream.is_array() || stream.elements.size() != 2) return 0;
  int applied = 0;
  for (const events::StreamEntry& entry :
       events::ParseEntries(stream.elements[1])) {
    if (absl::Status s = Apply(entry.type, entry.data); !s.ok())
      return s;  // retried
    position_ = entry.id;
    ++applied;
  }
  return applied;
}

absl::Status CatalogCache::Apply(const std::string& type,
                                 const std::string& data) {
  if (!absl::StartsWith(type, "rotation.") &&
      !absl::StartsWith(type, "session.") && !absl::StartsWith(type, "seat.")) {
    return absl::OkStatus();
  }
  events::v1::Event event;
  if (!event.ParseFromString(data))
    return absl::OkStatus();  // unreadable: nothing to do
  switch (event.payload_case()) {
    case events::v1::Event::kRotationPublished:
      return RefreshRotation(event.rotation_published().rotation());
    case events::v1::Event::kRotationUpdated:
      return RefreshRotation(event.rotation_updated().rotation());
    case events::v1::Event::kRotationArchived:
      Erase(event.rotation_archived().rotation());
      return absl::OkStatus();
    case events::v1::Event::kSessionCreated:
    case events::v1::Event::kSessionUpdated: {
      const events::v1::SessionChange& c =
          event.payload_case() == events::v1::Event::kSessionCreated
              ? event.session_created()
              : event.session_updated();
      UpdateSession(
          c.rotation(), c.session(),
          [&c](Session* s) {
            s->set_start_date(c.start_date());
            s->set_end_date(c.end_date());
            s->set_application_deadline(c.application_deadline());
            s->set_capacity(c.capacity());
            s->set_seats_available(c.seats_available());
          },
          /*create=*/true);
      return absl::OkStatus();
    }
    case events::v1::Event::kSeatHeld:
    case events::v1::Event::kSeatConfirmed:
    case events::v1::Event::kSeatReleased:
    case events::v1::Event::kSeatExpired: {
      const events::v1::SeatChange* c = nullptr;
      switch (event.payload_case()) {
        case events::v1::Event::kSeatHeld:
          c = &event.seat_held();
          break;
        case events::v1::Event::kSeatConfirmed:
          c = &event.seat_confirmed();
          break;
        case events::v1::Event::kSeatReleased:
          c = &event.seat_released();
          break;
        default:
          c = &event.seat_expired();
          break;
      }
      std::string rotation = c->rotation().empty()
                                 ? RotationOfSession(c->session())
                                 : c->rotation();
      const int32_t seats = c->seats_available();
      UpdateSession(
          rotation, c->session(),
          [seats](Session* s) { s->set_seats_available(seats); },
          /*create=*/false);
      return absl::OkStatus();
    }
    default:
      return absl::OkStatus();
  }
}

void CatalogCache::UpdateSession(const std::string& rotation,
                                 const std::string& session,
                                 const std::function<void(Session*)>& change,
                                 bool create) {
  absl::MutexLock lock(&mu_);
  auto it = rotations_.find(rotation);
  if (it == rotations_.end())
    return;  // not published (or not yet loaded): nothing to keep
  auto copy = std::make_shared<CatalogRotation>(*it->second);
  Session* target = nullptr;
  for (Session& s : copy->sessions) {
    if (s.name() == session) target = &s;
  }
  if (target == nullptr) {
    if (!create) return;
    target = &copy->sessions.emplace_back();
    target->set_name(session);
  }
  change(target);
  // Fresh counts from events imply the session is live; deadlines are re-judged
  // by the recommender in the site's time zone.
  target->set_accepting_applications(copy->rotation.state() ==
                                     Rotation::PUBLISHED);
  std::sort(copy->sessions.begin(), copy->sessions.end(),
            [](const Session& a, const Session& b) {
              return std::tie(a.start_date(), a.name()) <
                     std::tie(b.start_date(), b.name());
            });
  it->second = std::move(copy);
  InvalidateLocked();
}

void CatalogCache::Upsert(std::shared_ptr<const CatalogRotation> entry) {
  absl::MutexLock lock(&mu_);
  rotations_[entry->rotation.name()] = std::move(entry);
  InvalidateLocked();
}

void CatalogCache::Erase(const std::string& rotation) {
  absl::MutexLock lock(&mu_);
  if (rotations_.erase(rotation) > 0) InvalidateLocked();
}

void CatalogCache::InvalidateLocked() {
  snapshot_.reset();
  recommend_view_.reset();
  ++generation_;
}

std::shared_ptr<const CatalogCache::Snapshot> CatalogCache::SnapshotLocked()
    const {
  if (snapshot_ == nullptr) {
    auto snapshot = std::make_shared<Snapshot>();
    snapshot->reserve(rotations_.size());
    for (const auto& [name, entry] : rotations_) snapshot->push_back(entry);
    snapshot_ = std::move(snapshot);
  }
  return snapshot_;
}

std::shared_ptr<const CatalogCache::Snapshot> CatalogCache::Rotations() const {
  absl::MutexLock lock(&mu_);
  return SnapshotLocked();
}

std::shared_ptr<const RecommendIndex> CatalogCache::RecommendView() const {
  {
    absl::MutexLock lock(&mu_);
    if (recommend_view_ != nullptr) return recommend_view_;
  }
  absl::MutexLock build_lock(&view_build_mu_);
  std::shared_ptr<const Snapshot> snapshot;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    if (recommend_view_ != nullptr) return recommend_view_;  // built meanwhile
    snapshot = SnapshotLocked();
    generation = generation_;
  }
  // Built outside mu_: the follower keeps applying events meanwhile.
  std::vector<const CatalogRotation*> entries;
  entries.reserve(snapshot->size());
  for (const auto& entry : *snapshot) entries.push_back(entry.get());
  std::shared_ptr<const RecommendIndex> view =
      RecommendIndex::Build(entries, snapshot, last_view_.get());
  last_view_ = view;
  absl::MutexLock lock(&mu_);
  // A change arrived during the build: this view still answers this caller
  // (it is the catalog as of the call), but the next one builds afresh.
  if (generation_ == generation) recommend_view_ = view;
  return view;
}

std::shared_ptr<const CatalogRotation> CatalogCache::FindRotation(
    const std::string& rotation) const {
  absl::MutexLock lock(&mu_);
  auto it = rotations_.find(rotation);
  return it == rotations_.end() ? nullptr : it->second;
}

std::optional<Session> CatalogCache::FindSession(
    const std::string& session) const {
  std::shared_ptr<const CatalogRotation> entry =
      FindRotation(RotationOfSession(session));
  if (entry == nullptr) return std::nullopt;
  for (const Session& s : entry->sessions) {
    if (s.name() == session) return s;
  }
  return std::nullopt;
}

}  // namespace clerkship::matching
