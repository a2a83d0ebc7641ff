#pragma once

// A Redis client for request handlers that must never block.
//
// Commands from any thread are queued to one event-loop thread that owns a few hiredis asynchronous
// connections. Everything queued between two loop iterations is written in one go, so concurrent
// requests are pipelined; the queue costs one wakeup per batch, and none while the loop is reading
// replies (it sends what was queued meanwhile before it waits again). Each command has a deadline
// of its own: when Redis hangs, the caller gets DEADLINE_EXCEEDED on time and the late reply is
// dropped. Connections that fail are re-established with exponential backoff; with Sentinel
// configured the master's address is asked of the sentinels on every (re)connect, and a connection
// that finds itself on a replica (ROLE, or a READONLY error) is dropped, so a failover is followed
// without a restart. The client reports whether it has a working connection; the server bootstrap
// turns that into gRPC health.
//
// Callbacks run on the event-loop thread: keep them short and never block in them.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clerkship::redis {

struct Reply {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus and kError
  std::vector<Reply> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  bool is_array() const { return type == Type::kArray; }
  // Integers also from their decimal string form (as Lua numbers often arrive).
  absl::StatusOr<int64_t> AsInteger() const;
};

// A Lua script, sent by SHA1 and re-sent in full when Redis answers NOSCRIPT (after a
// restart or SCRIPT FLUSH).
class Script {
 public:
  explicit Script(std::string source);
  const std::string& source() const { return *source_; }
  const std::string& sha1() const { return sha1_; }
  // Shared with commands in flight (for the NOSCRIPT retry) instead of copied into each.
  const std::shared_ptr<const std::string>& shared_source() const { return source_; }

 private:
  std::shared_ptr<const std::string> source_;
  std::string sha1_;
};

struct ClientOptions {
  // Direct address "host:port"; ignored when sentinels are given.
  std::string address = "127.0.0.1:6379";
  // Sentinel "host:port" list and the monitored master's name.
  std::vector<std::string> sentinels;
  std::string master_name = "mymaster";
  std::string password;
  int connections = 2;
  absl::Duration command_timeout = absl::Seconds(2);
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration reconnect_min_backoff = absl::Milliseconds(50);
  absl::Duration reconnect_max_backoff = absl::Seconds(2);
  // How often each connection is pinged; two unanswered intervals in a row (with no other
  // reply completing meanwhile) report it down, four drop and re-establish it.
  absl::Duration health_check_interval = absl::Milliseconds(500);
};

using Callback = std::function<void(absl::StatusOr<Reply>)>;

class Client {
 public:
  // Starts the event-loop thread and begins connecting; does not wait for Redis.
  static std::unique_ptr<Client> Create(ClientOptions options);
  virtual ~Client() = default;

  // Sends a command. Transport problems arrive as UNAVAILABLE (no connection, connection
  // lost) or DEADLINE_EXCEEDED; a Redis error reply arrives as a Reply of type kError.
  virtual void Command(std::vector<std::string> args, Callback done) = 0;
  virtual void Command(std::vector<std::string> args, absl::Duration timeout,
                       Callback done) = 0;
  virtual void Eval(const Script& script, std::vector<std::string> keys,
                    std::vector<std::string> args, Callback done) = 0;
  // Eval, then `WAIT replicas timeout` on the same connection, for writes that must survive
  // a failover (replication is asynchronous). Answers the script's reply once `replicas`
  // replicas have acknowledged its writes; when fewer did within `wait_timeout`, UNAVAILABLE
  // (the write stays applied on the master: use it for idempotent writes the caller
  // retries). Error replies are answered at once. replicas <= 0 is a plain Eval.
  virtual void EvalAndWait(const Script& script, std::vector<std::string> keys,
                           std::vector<std::string> args, int replicas,
                           absl::Duration wait_timeout, Callback done) = 0;

  // Blocking forms for start-up, tools and tests. Never call them from a callback of this
  // client or from a gRPC callback handler.
  absl::StatusOr<Reply> CommandSync(std::vector<std::string> args);
  absl::StatusOr<Reply> EvalSync(const Script& script, std::vector<std::string> keys,
                                 std::vector<std::string> args);

  // True while at least one connection is established and answering.
  virtual bool healthy() const = 0;
  // Called (on the event-loop thread) whenever healthy() changes.
  virtual void SetHealthListener(std::function<void(bool)> listener) = 0;
  bool WaitHealthy(absl::Duration timeout) const;
};

// Maps a Redis error reply to an absl::Status (INTERNAL, message kept for logs only).
absl::Status ErrorReplyStatus(const Reply& reply);

// The status of a script call, by the convention every service's Lua scripts follow:
// domain errors are error replies "CODE REASON message", e.g.
//   redis.error_reply('RESOURCE_EXHAUSTED NO_SEATS session rotations/r/sessions/s is full')
// where CODE is a canonical status code name (NOT_FOUND, ALREADY_EXISTS, ABORTED,
// FAILED_PRECONDITION, RESOURCE_EXHAUSTED, INVALID_ARGUMENT, PERMISSION_DENIED) and REASON
// an UPPER_SNAKE ErrorInfo reason. Transport failures and timeouts become UNAVAILABLE;
// any other error reply is INTERNAL with a message that does not leak internals.
absl::Status ScriptStatus(const absl::StatusOr<Reply>& reply, absl::string_view domain);

}  // namespace clerkship::redis
