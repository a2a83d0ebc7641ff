#pragma once

// Events on Redis Streams.
//
// Publishing happens inside the Lua script that makes the state change (kLuaPublish below is
// prepended to such scripts), so a change and its event are one atomic step. Each entry has
// two fields: `type` (Event.type) and `event` (the serialized clerkship.events.v1.Event).
//
// Consuming goes through a consumer group: at-least-once delivery, entries acknowledged
// after the handler succeeds, entries left pending by a crashed consumer reclaimed with
// XAUTOCLAIM after an idle timeout, and an entry that failed max_deliveries times moved to a
// dead-letter stream together with its last error.

#include <atomic>
#include <map>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clerkship/events/v1/events.pb.h"
#include "common/redis/redis_client.h"

namespace clerkship::events {

// Lua: publish_event(stream, type, payload) appends an entry, trimming the stream to about
// a million entries. Declares a local function; prepend to a script's source.
extern const char kLuaPublish[];

// A new envelope with a fresh UUIDv4 id and the current time.
clerkship::events::v1::Event NewEvent(const std::string& source, const std::string& type,
                                      const std::string& subject, const std::string& actor);
std::string NewUuid();

struct StreamEntry {
  std::string id;    // stream entry id, e.g. "1700000000000-0"
  std::string type;  // Event.type
  std::string data;  // serialized Event
  int64_t deliveries = 1;
};

struct ConsumerOptions {
  std::string stream;             // e.g. "app:events"
  std::string group;              // e.g. "notification"
  std::string consumer;           // unique per process, e.g. the pod name
  std::string dead_letter_stream; // e.g. "ntf:deadletter"
  std::string start_id = "0";     // where a new group starts: "0" (all) or "$" (new only)
  int batch_size = 64;
  absl::Duration block = absl::Milliseconds(500);
  absl::Duration claim_idle = absl::Seconds(30);  // pending this long → another consumer takes it
  absl::Duration claim_interval = absl::Seconds(5);
  int max_deliveries = 5;
};

// Runs the consume loop on its own thread with its own Redis connection, so a blocking
// XREADGROUP never delays the service's other commands.
class StreamConsumer {
 public:
  using Handler = std::function<absl::Status(const StreamEntry&)>;

  StreamConsumer(redis::ClientOptions redis_options, ConsumerOptions options, Handler handler);
  ~StreamConsumer();

  void Start();
  void Stop();
  // One pass (reclaim + read + handle), for tests. Returns entries handled successfully.
  absl::StatusOr<int> PollOnce(absl::Duration block);

  int64_t dead_lettered() const { return dead_lettered_.load(); }

 private:
  absl::Status EnsureGroup();
  absl::StatusOr<int> Reclaim();
  absl::StatusOr<int> Handle(std::vector<StreamEntry> entries);
  absl::Status DeadLetter(const StreamEntry& entry, const std::string& error);

  ConsumerOptions options_;
  Handler handler_;
  std::unique_ptr<redis::Client> redis_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool group_ready_ = false;
  absl::Time last_claim_ = absl::InfinitePast();
  std::atomic<int64_t> dead_lettered_{0};
  absl::Mutex errors_mu_;
  std::map<std::string, std::string> last_errors_ ABSL_GUARDED_BY(errors_mu_);
};

// Parses an XREADGROUP / XAUTOCLAIM / XRANGE entry list.
std::vector<StreamEntry> ParseEntries(const redis::Reply& entries);

// Moves a dead letter back onto its original stream (and out of the dead-letter stream).
absl::Status ReplayDeadLetter(redis::Client* redis, const std::string& dead_letter_stream,
                              const std::string& entry_id);

}  // namespace clerkship::events
