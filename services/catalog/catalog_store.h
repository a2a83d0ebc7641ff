#pragma once

// Persistence of the catalog, behind an interface so the service logic does not depend on
// Redis. Every method is asynchronous: `done` runs once, on a thread of the store's
// choosing (the Redis event loop), and must not block.
//
// Time is always passed in (`now`), so that tests can drive it with a ManualClock: it
// decides which sessions are still open and which seat holds have lapsed.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clerkship/catalog/v1/catalog.pb.h"
#include "clerkship/events/v1/events.pb.h"
#include "services/catalog/catalog_rules.h"

namespace clerkship::catalog {

template <typename T>
using Done = std::function<void(absl::StatusOr<T>)>;

// A rotation as stored, with next_start_date and seats_available computed at read time.
struct StoredRotation {
  v1::Rotation rotation;
  std::string time_zone;  // the site's, copied at creation; needed for session deadlines
};

// What the store needs to write a rotation besides the record itself.
struct RotationWrite {
  v1::Rotation rotation;            // complete, with etag and state set
  std::vector<std::string> terms;   // SearchTermsOf(rotation)
  std::string time_zone;
};

// A session as stored, with live seat counts and accepting_applications filled in, and what
// the caller needs to decide visibility.
struct StoredSession {
  v1::Session session;
  std::string rotation_site;  // "sites/{id}"
  v1::Rotation::State rotation_state = v1::Rotation::STATE_UNSPECIFIED;
  std::string time_zone;      // the site's
};

struct SessionWrite {
  std::string rotation_id;
  std::string session_id;
  v1::Session session;       // stored fields only (counts are the store's), etag set
  absl::Time applications_close;  // ApplicationsCloseAt(deadline, site time zone)
};

struct SessionPage {
  std::string rotation_site;
  v1::Rotation::State rotation_state = v1::Rotation::STATE_UNSPECIFIED;
  std::vector<v1::Session> sessions;  // ordered by start_date, then name
};

// A rotation as GetRotation and SearchRotations answer it, in protobuf wire form, so that
// answering does not copy or serialize the record: `record` is the stored v1::Rotation,
// serialized once when it changed and shared by every answer until the next change;
// `computed` is a v1::Rotation holding only the fields computed at read time
// (next_start_date, seats_available), which the record never has. A message's fields may
// come in any order on the wire, so the two concatenated are the whole rotation.
struct RotationRecord {
  std::string bytes;  // serialized v1::Rotation as stored
  v1::Rotation::State state = v1::Rotation::STATE_UNSPECIFIED;
  std::string site;   // "sites/{id}", for visibility checks
  std::string id;     // the rotation's id, for page cursors
};
struct RotationWire {
  std::shared_ptr<const RotationRecord> record;
  std::string computed;

  size_t size() const { return record->bytes.size() + computed.size(); }
  // The rotation as a message (tests, and callers that need the fields).
  bool ParseTo(v1::Rotation* out) const;
};

struct SearchPage {
  std::vector<RotationWire> rotations;
  std::vector<int64_t> scores;  // sort score of each rotation, for the next cursor
  bool more = false;
  int32_t total_size = 0;
};

enum class RotationTransition { kUpdate, kPublish, kArchive };

class CatalogStore {
 public:
  virtual ~CatalogStore() = default;

  // ---- Sites ----
  // Stores a new site (its name already set). With a request_id seen before, returns the
  // site created then. ALREADY_EXISTS when the name is taken.
  virtual void CreateSite(const v1::Site& site, const std::string& request_id,
                          Done<v1::Site> done) = 0;
  // NOT_FOUND when there is no such site.
  virtual void GetSite(const std::string& site_id, Done<v1::Site> done) = 0;
  // Sites ordered by id, starting after `after_id` (empty: from the start), at most
  // `limit` of them.
  virtual void ListSites(const std::string& after_id, int limit,
                         Done<std::vector<v1::Site>> done) = 0;

  // ---- Rotations ----
  // Stores a new DRAFT rotation. A request_id seen in the last 24 hours returns the rotation
  // created then. ALREADY_EXISTS when the id is taken.
  virtual void CreateRotation(const RotationWrite& write, const std::string& request_id,
                              absl::Time now, Done<StoredRotation> done) = 0;
  // NOT_FOUND when there is no such rotation.
  virtual void GetRotation(const std::string& rotation_id, absl::Time now,
                           Done<StoredRotation> done) = 0;
  // The same rotation in wire form, for answering reads without copying it.
  virtual void GetRotationWire(const std::string& rotation_id, absl::Time now,
                               Done<RotationWire> done) = 0;
  // Replaces a rotation if its etag is still `expected_etag` (else ABORTED with reason
  // ETAG_CHANGED), enforcing the state rules of `transition` (FAILED_PRECONDITION
  // ROTATION_ARCHIVED / ROTATION_HAS_NO_SESSIONS), re-indexing it for search and
  // appending `event` to cat:events (unless its type is empty), all in one atomic step.
  virtual void WriteRotation(RotationTransition transition, const std::string& expected_etag,
                             const RotationWrite& write, const events::v1::Event& event,
                             absl::Time now, Done<StoredRotation> done) = 0;

  // ---- Sessions ----
  // Creates a session of a DRAFT or PUBLISHED rotation and appends `event`. NOT_FOUND
  // (rotation), FAILED_PRECONDITION ROTATION_ARCHIVED, ALREADY_EXISTS.
  virtual void CreateSession(const SessionWrite& write, const std::string& request_id,
                             const events::v1::Event& event, absl::Time now,
                             Done<StoredSession> done) = 0;
  virtual void GetSession(const std::string& rotation_id, const std::string& session_id,
                          absl::Time now, Done<StoredSession> done) = 0;
  // Replaces a session's dates and capacity if its etag is still `expected_etag`;
  // FAILED_PRECONDITION CAPACITY_BELOW_SEATS_TAKEN when capacity would drop below the
  // seats held and confirmed. `event` gets seats_available filled in by the store.
  virtual void UpdateSession(const std::string& expected_etag, const SessionWrite& write,
                             const events::v1::Event& event, absl::Time now,
                             Done<StoredSession> done) = 0;
  // Sessions of a rotation after (after_start_day, after_session_id) in (start_date, name)
  // order, at most `limit`. NOT_FOUND when the rotation does not exist.
  virtual void ListSessions(const std::string& rotation_id,
                            std::optional<int64_t> after_start_day,
                            const std::string& after_session_id, int limit, bool open_only,
                            absl::Time now, Done<SessionPage> done) = 0;

  // ---- Search ----
  // PUBLISHED rotations matching `query`, after `cursor`, at most `limit`.
  virtual void SearchRotations(const SearchQuery& query,
                               const std::optional<SearchCursor>& cursor, int limit,
                               absl::Time now, Done<SearchPage> done) = 0;
};

}  // namespace clerkship::catalog
