#include "common/redis/redis_client.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "absl/container/inlined_vector.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/logging/log.h"
#include "common/status/status.h"

namespace clerkship::redis {

absl::StatusOr<int64_t> Reply::AsInteger() const {
  if (type == Type::kInteger) return integer;
  int64_t n;
  if ((type == Type::kString || type == Type::kStatus) && absl::SimpleAtoi(str, &n)) return n;
  return absl::InternalError("redis reply is not an integer");
}

Script::Script(std::string source)
    : source_(std::make_shared<const std::string>(std::move(source))) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_->data()), source_->size(), digest);
  for (unsigned char b : digest) absl::StrAppendFormat(&sha1_, "%02x", b);
}

absl::Status ErrorReplyStatus(const Reply& reply) {
  return absl::InternalError(absl::StrCat("redis: ", reply.str));
}

absl::StatusOr<Reply> Client::CommandSync(std::vector<std::string> args) {
  absl::Notification done;
  absl::StatusOr<Reply> result;
  Command(std::move(args), [&](absl::StatusOr<Reply> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

absl::StatusOr<Reply> Client::EvalSync(const Script& script, std::vector<std::string> keys,
                                       std::vector<std::string> args) {
  absl::Notification done;
  absl::StatusOr<Reply> result;
  Eval(script, std::move(keys), std::move(args), [&](absl::StatusOr<Reply> r) {
    result = std::move(r);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

absl::Status ScriptStatus(const absl::StatusOr<Reply>& reply, absl::string_view domain) {
  if (!reply.ok()) {
    return ErrorWithInfo(absl::StatusCode::kUnavailable,
                         "storage is unavailable, retry later", "STORAGE_UNAVAILABLE", domain);
  }
  if (!reply->is_error()) return absl::OkStatus();
  static constexpr struct {
    const char* name;
    absl::StatusCode code;
  } kCodes[] = {{"NOT_FOUND", absl::StatusCode::kNotFound},
                {"ALREADY_EXISTS", absl::StatusCode::kAlreadyExists},
                {"ABORTED", absl::StatusCode::kAborted},
                {"FAILED_PRECONDITION", absl::StatusCode::kFailedPrecondition},
                {"RESOURCE_EXHAUSTED", absl::StatusCode::kResourceExhausted},
                {"INVALID_ARGUMENT", absl::StatusCode::kInvalidArgument},
                {"PERMISSION_DENIED", absl::StatusCode::kPermissionDenied}};
  std::vector<std::string> parts = absl::StrSplit(reply->str, absl::MaxSplits(' ', 2));
  for (const auto& c : kCodes) {
    if (parts[0] != c.name) continue;
    std::string reason = parts.size() > 1 ? parts[1] : parts[0];
    std::string message = parts.size() > 2 ? parts[2] : reason;
    return ErrorWithInfo(c.code, message, reason, domain);
  }
  return ErrorWithInfo(absl::StatusCode::kInternal, "internal storage error", "STORAGE_ERROR",
                       domain);
}

bool Client::WaitHealthy(absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  while (!healthy()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

namespace {

Reply ConvertReply(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(ConvertReply(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  *host = address.substr(0, colon);
  return absl::SimpleAtoi(address.substr(colon + 1), port);
}

class EventLoopClient;

// A connection whose pings go unanswered this many intervals in a row counts as down for
// health, and after a few more it is dropped and re-established.
constexpr int kMissedPingsToReportDown = 2;
constexpr int kMissedPingsToDrop = 4;

struct Connection {
  EventLoopClient* owner = nullptr;
  int index = 0;
  redisAsyncContext* ctx = nullptr;
  enum class State { kDown, kConnecting, kReady } state = State::kDown;
  event* reconnect_timer = nullptr;
  event* connect_timer = nullptr;
  event* ping_timer = nullptr;
  absl::Duration backoff;
  int missed_pings = 0;
  bool ping_in_flight = false;
  // Replies completed on this connection; a ping stuck behind a large reply is not a
  // missed ping as long as other replies keep completing.
  uint64_t replies_seen = 0;
  uint64_t replies_at_ping = 0;
  uint64_t generation = 0;  // bumps on every new context, so stale callbacks are ignored
};

// One command in flight. Owned by hiredis's callback queue until the reply (or the
// connection's end) arrives; the timer may answer the caller earlier.
struct Pending {
  EventLoopClient* owner = nullptr;
  Callback done;
  event* timer = nullptr;
  bool answered = false;
  Connection* conn = nullptr;
  // EVALSHA: its arguments and the script's source, so that NOSCRIPT can be answered by
  // sending EVAL with the source (no copy of the source per call).
  std::vector<std::string> eval_args;
  std::shared_ptr<const std::string> script_source;
  absl::Duration timeout;
  // EvalAndWait: replicas that must acknowledge the script's writes before it is answered.
  int wait_replicas = 0;
  absl::Duration wait_timeout;
};

struct Queued {
  std::vector<std::string> args;
  absl::Duration timeout;
  Callback done;
  std::shared_ptr<const std::string> script_source;  // EVALSHA: for the NOSCRIPT retry
  int wait_replicas = 0;
  absl::Duration wait_timeout;
};

// Our libevent adapter for one hiredis context (in place of hiredis's own), so that the
// loop knows when it is reading replies (see EventLoopClient::draining_after_reads_).
struct SocketEvents {
  EventLoopClient* owner = nullptr;
  redisAsyncContext* ctx = nullptr;
  event* read = nullptr;   // persistent
  event* write = nullptr;  // one-shot
  bool reading = false;
  bool writing = false;
};

class EventLoopClient final : public Client {
 public:
  explicit EventLoopClient(ClientOptions options) : options_(std::move(options)) {
    static std::once_flag once;
    std::call_once(once, [] { evthread_use_pthreads(); });
    if (options_.connections < 1) options_.connections = 1;
    base_ = event_base_new();
    // Most commands share one timeout: libevent keeps their timers in a list (constant
    // time) instead of its heap.
    timeval tv = absl::ToTimeval(options_.command_timeout);
    common_timeout_ = event_base_init_common_timeout(base_, &tv);
    wakeup_ = event_new(base_, -1, 0, &EventLoopClient::OnWakeup, this);
    connections_.resize(options_.connections);
    for (int i = 0; i < options_.connections; ++i) {
      Connection& c = connections_[i];
      c.owner = this;
      c.index = i;
      c.backoff = options_.reconnect_min_backoff;
      c.reconnect_timer = evtimer_new(base_, &EventLoopClient::OnReconnectTimer, &c);
      c.connect_timer = evtimer_new(base_, &EventLoopClient::OnConnectTimeout, &c);
      c.ping_timer = evtimer_new(base_, &EventLoopClient::OnPingTimer, &c);
    }
    thread_ = std::thread([this] { Run(); });
  }

  ~EventLoopClient() override {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      stopping_ = true;
    }
    event_active(wakeup_, 0, 0);
    thread_.join();
    for (Connection& c : connections_) {
      event_free(c.reconnect_timer);
      event_free(c.connect_timer);
      event_free(c.ping_timer);
    }
    event_free(wakeup_);
    event_base_free(base_);
  }

  void Command(std::vector<std::string> args, Callback done) override {
    Command(std::move(args), options_.command_timeout, std::move(done));
  }

  void Command(std::vector<std::string> args, absl::Duration timeout, Callback done) override {
    Enqueue({std::move(args), timeout, std::move(done), nullptr});
  }

  void Eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
            Callback done) override {
    Enqueue({EvalShaArgs(script, std::move(keys), std::move(args)), options_.command_timeout,
             std::move(done), script.shared_source()});
  }

  void EvalAndWait(const Script& script, std::vector<std::string> keys,
                   std::vector<std::string> args, int replicas, absl::Duration wait_timeout,
                   Callback done) override {
    if (replicas <= 0) return Eval(script, std::move(keys), std::move(args), std::move(done));
    Queued q{EvalShaArgs(script, std::move(keys), std::move(args)), options_.command_timeout,
             std::move(done), script.shared_source()};
    q.wait_replicas = replicas;
    q.wait_timeout = wait_timeout;
    Enqueue(std::move(q));
  }

  bool healthy() const override { return healthy_.load(); }

  void SetHealthListener(std::function<void(bool)> listener) override {
    absl::MutexLock lock(&listener_mu_);
    listener_ = std::move(listener);
  }

 private:
  static std::vector<std::string> EvalShaArgs(const Script& script,
                                              std::vector<std::string> keys,
                                              std::vector<std::string> args) {
    std::vector<std::string> evalsha;
    evalsha.reserve(3 + keys.size() + args.size());
    evalsha.push_back("EVALSHA");
    evalsha.push_back(script.sha1());
    evalsha.push_back(absl::StrCat(keys.size()));
    for (auto& k : keys) evalsha.push_back(std::move(k));
    for (auto& a : args) evalsha.push_back(std::move(a));
    return evalsha;
  }

  void Enqueue(Queued q) {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (!stopping_) {
        queue_.push_back(std::move(q));
        // One wakeup per batch, and none while the loop is handling replies: it takes the
        // queue before it waits again (commands sent from reply callbacks mostly land
        // there).
        if (queue_.size() == 1 && !draining_after_reads_) event_active(wakeup_, 0, 0);
        return;
      }
    }
    q.done(absl::UnavailableError("redis client is shutting down"));
  }

  void Run() {
    for (Connection& c : connections_) Connect(&c);
    event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
  }

  static void OnWakeup(evutil_socket_t, short, void* arg) {
    static_cast<EventLoopClient*>(arg)->DrainQueue();
  }

  void DrainQueue() {
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      batch_.swap(queue_);
      stopping = stopping_;
      draining_after_reads_ = false;
    }
    for (Queued& q : batch_) {
      if (stopping) {
        q.done(absl::UnavailableError("redis client is shutting down"));
      } else {
        Send(std::move(q));
      }
    }
    batch_.clear();  // keeps its blocks for the next batch
    if (stopping) Shutdown();
  }

  void Shutdown() {
    for (Connection& c : connections_) {
      c.generation++;
      evtimer_del(c.reconnect_timer);
      evtimer_del(c.connect_timer);
      evtimer_del(c.ping_timer);
      if (c.ctx != nullptr) {
        redisAsyncContext* ctx = c.ctx;
        c.ctx = nullptr;
        c.state = Connection::State::kDown;
        redisAsyncFree(ctx);  // pending callbacks are answered with UNAVAILABLE
      }
    }
    event_base_loopbreak(base_);
  }

  Connection* PickConnection() {
    for (int i = 0; i < options_.connections; ++i) {
      Connection& c = connections_[(next_ + i) % options_.connections];
      if (c.state == Connection::State::kReady && c.ctx != nullptr) {
        next_ = (next_ + i + 1) % options_.connections;
        return &c;
      }
    }
    return nullptr;
  }

  // On the loop thread.
  void Send(Queued q) {
    Connection* conn = PickConnection();
    if (conn == nullptr) {
      q.done(absl::UnavailableError("redis is unavailable"));
      return;
    }
    auto* p = new Pending;
    p->owner = this;
    p->done = std::move(q.done);
    p->conn = conn;
    p->script_source = std::move(q.script_source);
    p->timeout = q.timeout;
    p->wait_replicas = q.wait_replicas;
    p->wait_timeout = q.wait_timeout;
    if (!SendOn(conn->ctx, q.args, &EventLoopClient::OnReply, p)) {
      Callback cb = std::move(p->done);
      delete p;
      cb(absl::UnavailableError("redis connection is closing"));
      return;
    }
    // Kept (not copied) for a NOSCRIPT retry; hiredis has its own copy of the command.
    if (p->script_source != nullptr) p->eval_args = std::move(q.args);
    p->timer = evtimer_new(base_, &EventLoopClient::OnCommandTimeout, p);
    if (q.timeout == options_.command_timeout) {
      evtimer_add(p->timer, common_timeout_);
    } else {
      timeval tv = absl::ToTimeval(q.timeout);
      evtimer_add(p->timer, &tv);
    }
  }

  static bool SendOn(redisAsyncContext* ctx, const std::vector<std::string>& args,
                     redisCallbackFn* fn, void* privdata) {
    absl::InlinedVector<const char*, 16> argv(args.size());
    absl::InlinedVector<size_t, 16> argvlen(args.size());
    for (size_t i = 0; i < args.size(); ++i) {
      argv[i] = args[i].data();
      argvlen[i] = args[i].size();
    }
    return redisAsyncCommandArgv(ctx, fn, privdata, static_cast<int>(args.size()), argv.data(),
                                 argvlen.data()) == REDIS_OK;
  }

  static void OnCommandTimeout(evutil_socket_t, short, void* arg) {
    auto* p = static_cast<Pending*>(arg);
    if (p->answered) return;
    p->answered = true;
    Callback cb = std::move(p->done);
    cb(absl::DeadlineExceededError("redis command timed out"));
  }

  static void OnReply(redisAsyncContext* ctx, void* r, void* privdata) {
    auto* p = static_cast<Pending*>(privdata);
    EventLoopClient* self = p->owner;
    if (p->timer != nullptr) event_free(p->timer);
    p->timer = nullptr;
    auto* reply = static_cast<redisReply*>(r);
    if (reply != nullptr && p->conn != nullptr) p->conn->replies_seen++;
    if (!p->answered) {
      p->answered = true;
      if (reply == nullptr) {
        p->done(absl::UnavailableError("redis connection lost"));
      } else if (reply->type == REDIS_REPLY_ERROR && p->script_source != nullptr &&
                 absl::StartsWith(absl::string_view(reply->str, reply->len), "NOSCRIPT")) {
        // The script cache is empty (restart, SCRIPT FLUSH): send the source once.
        Queued retry{std::move(p->eval_args), p->timeout, std::move(p->done), nullptr,
                     p->wait_replicas, p->wait_timeout};
        retry.args[0] = "EVAL";
        retry.args[1] = *p->script_source;
        self->Send(std::move(retry));
      } else {
        if (reply->type == REDIS_REPLY_ERROR &&
            absl::StartsWith(absl::string_view(reply->str, reply->len), "READONLY")) {
          // We are talking to a replica after a failover: find the master again.
          self->DropConnection(p->conn, "connected to a read-only replica");
        }
        if (p->wait_replicas > 0 && reply->type != REDIS_REPLY_ERROR) {
          self->SendWait(ctx, p, ConvertReply(reply));
        } else {
          p->done(ConvertReply(reply));
        }
      }
    }
    delete p;
  }

  // EvalAndWait's second step, on the connection that ran the script (WAIT counts the
  // acknowledgements of this connection's own writes). Answers p's caller.
  struct WaitPending {
    EventLoopClient* owner = nullptr;
    Callback done;
    Reply script_reply;
    int replicas = 0;
    event* timer = nullptr;
    bool answered = false;
  };

  void SendWait(redisAsyncContext* ctx, Pending* p, Reply script_reply) {
    auto* w = new WaitPending;
    w->owner = this;
    w->done = std::move(p->done);
    w->script_reply = std::move(script_reply);
    w->replicas = p->wait_replicas;
    std::vector<std::string> wait = {"WAIT", absl::StrCat(p->wait_replicas),
                                     absl::StrCat(absl::ToInt64Milliseconds(p->wait_timeout))};
    if (!SendOn(ctx, wait, &EventLoopClient::OnWaitReply, w)) {
      Callback cb = std::move(w->done);
      delete w;
      cb(absl::UnavailableError("redis connection is closing before WAIT"));
      return;
    }
    w->timer = evtimer_new(base_, &EventLoopClient::OnWaitTimeout, w);
    timeval tv = absl::ToTimeval(p->wait_timeout + options_.command_timeout);
    evtimer_add(w->timer, &tv);
  }

  static void OnWaitTimeout(evutil_socket_t, short, void* arg) {
    auto* w = static_cast<WaitPending*>(arg);
    if (w->answered) return;
    w->answered = true;
    Callback cb = std::move(w->done);
    cb(absl::DeadlineExceededError("redis WAIT timed out"));
  }

  static void OnWaitReply(redisAsyncContext*, void* r, void* privdata) {
    auto* w = static_cast<WaitPending*>(privdata);
    if (w->timer != nullptr) event_free(w->timer);
    w->timer = nullptr;
    auto* reply = static_cast<redisReply*>(r);
    if (!w->answered) {
      w->answered = true;
      if (reply == nullptr) {
        w->done(absl::UnavailableError("redis connection lost during WAIT"));
      } else if (reply->type != REDIS_REPLY_INTEGER || reply->integer < w->replicas) {
        std::string acknowledged = "not an integer";
        if (reply->type == REDIS_REPLY_INTEGER) acknowledged = absl::StrCat(reply->integer);
        if (reply->type == REDIS_REPLY_ERROR) acknowledged.assign(reply->str, reply->len);
        log::Warning("write not acknowledged by enough replicas",
                     {{"wanted", absl::StrCat(w->replicas)}, {"acknowledged", acknowledged}});
        w->done(absl::UnavailableError("write not acknowledged by enough redis replicas"));
      } else {
        w->done(std::move(w->script_reply));
      }
    }
    delete w;
  }

  void DropConnection(Connection* c, absl::string_view why) {
    if (c->ctx == nullptr) return;
    log::Warning("dropping redis connection", {{"reason", std::string(why)},
                                                {"connection", absl::StrCat(c->index)}});
    redisAsyncContext* ctx = c->ctx;
    // redisAsyncFree answers pending commands with a null reply and then calls the
    // disconnect callback, which schedules the reconnect.
    redisAsyncFree(ctx);
  }

  std::string ResolveAddress() {
    if (options_.sentinels.empty()) return options_.address;
    for (const std::string& sentinel : options_.sentinels) {
      std::string host;
      int port;
      if (!SplitHostPort(sentinel, &host, &port)) continue;
      timeval tv = absl::ToTimeval(options_.connect_timeout);
      redisContext* sc = redisConnectWithTimeout(host.c_str(), port, tv);
      if (sc == nullptr) continue;
      if (sc->err) {
        redisFree(sc);
        continue;
      }
      redisSetTimeout(sc, tv);
      auto* r = static_cast<redisReply*>(redisCommand(
          sc, "SENTINEL get-master-addr-by-name %s", options_.master_name.c_str()));
      std::string address;
      if (r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        address = absl::StrCat(std::string(r->element[0]->str, r->element[0]->len), ":",
                               std::string(r->element[1]->str, r->element[1]->len));
      }
      if (r != nullptr) freeReplyObject(r);
      redisFree(sc);
      if (!address.empty()) return address;
    }
    return "";
  }

  // --- The libevent adapter (see SocketEvents), on the loop thread.

  static void OnSocketReadable(evutil_socket_t, short, void* arg) {
    auto* events = static_cast<SocketEvents*>(arg);
    EventLoopClient* self = events->owner;
    {
      std::lock_guard<std::mutex> lock(self->queue_mu_);
      self->draining_after_reads_ = true;
    }
    // Replies and their callbacks; `events` may be freed here (disconnect).
    redisAsyncHandleRead(events->ctx);
    // What the callbacks (and other threads meanwhile) queued goes out now, without a
    // wakeup of its own.
    self->DrainQueue();
  }

  static void OnSocketWritable(evutil_socket_t, short, void* arg) {
    auto* events = static_cast<SocketEvents*>(arg);
    events->writing = false;
    redisAsyncHandleWrite(events->ctx);  // may free the context, and `events` with it
  }

  static void AddRead(void* arg) {
    auto* events = static_cast<SocketEvents*>(arg);
    if (events->reading) return;
    events->reading = true;
    event_add(events->read, nullptr);
  }

  static void DelRead(void* arg) {
    auto* events = static_cast<SocketEvents*>(arg);
    if (!events->reading) return;
    events->reading = false;
    event_del(events->read);
  }

  static void AddWrite(void* arg) {
    auto* events = static_cast<SocketEvents*>(arg);
    if (events->writing) return;
    events->writing = true;
    event_add(events->write, nullptr);
  }

  static void DelWrite(void* arg) {
    auto* events = static_cast<SocketEvents*>(arg);
    if (!events->writing) return;
    events->writing = false;
    event_del(events->write);
  }

  static void Cleanup(void* arg) {
    auto* events = static_cast<SocketEvents*>(arg);
    event_free(events->read);
    event_free(events->write);
    delete events;
  }

  void Attach(redisAsyncContext* ctx) {
    auto* events = new SocketEvents;
    events->owner = this;
    events->ctx = ctx;
    events->read = event_new(base_, ctx->c.fd, EV_READ | EV_PERSIST,
                             &EventLoopClient::OnSocketReadable, events);
    events->write = event_new(base_, ctx->c.fd, EV_WRITE, &EventLoopClient::OnSocketWritable,
                              events);
    ctx->ev.data = events;
    ctx->ev.addRead = &EventLoopClient::AddRead;
    ctx->ev.delRead = &EventLoopClient::DelRead;
    ctx->ev.addWrite = &EventLoopClient::AddWrite;
    ctx->ev.delWrite = &EventLoopClient::DelWrite;
    ctx->ev.cleanup = &EventLoopClient::Cleanup;
    // As hiredis's own adapter does: the connect completes on writability.
    AddRead(events);
    AddWrite(events);
  }

  void Connect(Connection* c) {
    std::string address = ResolveAddress();
    std::string host;
    int port = 0;
    if (address.empty() || !SplitHostPort(address, &host, &port)) {
      ScheduleReconnect(c, "no redis master address (sentinels unreachable?)");
      return;
    }
    redisAsyncContext* ctx = redisAsyncConnect(host.c_str(), port);
    if (ctx == nullptr || ctx->err) {
      std::string err = ctx ? ctx->errstr : "out of memory";
      if (ctx) redisAsyncFree(ctx);
      ScheduleReconnect(c, err);
      return;
    }
    c->generation++;
    c->ctx = ctx;
    c->state = Connection::State::kConnecting;
    ctx->data = c;
    Attach(ctx);
    redisAsyncSetConnectCallback(ctx, &EventLoopClient::OnConnect);
    redisAsyncSetDisconnectCallback(ctx, &EventLoopClient::OnDisconnect);
    timeval tv = absl::ToTimeval(options_.connect_timeout);
    evtimer_add(c->connect_timer, &tv);
  }

  static void OnConnectTimeout(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Connection*>(arg);
    if (c->state != Connection::State::kConnecting || c->ctx == nullptr) return;
    redisAsyncContext* ctx = c->ctx;
    c->ctx = nullptr;
    c->state = Connection::State::kDown;
    redisAsyncFree(ctx);  // not connected yet: no disconnect callback follows
    c->owner->ScheduleReconnect(c, "connect timed out");
  }

  static void OnConnect(const redisAsyncContext* ctx, int status) {
    auto* c = static_cast<Connection*>(ctx->data);
    EventLoopClient* self = c->owner;
    evtimer_del(c->connect_timer);
    if (status != REDIS_OK) {
      // hiredis frees the context after this callback.
      std::string err = ctx->errstr;
      c->ctx = nullptr;
      c->state = Connection::State::kDown;
      self->ScheduleReconnect(c, err);
      return;
    }
    // Authenticate, then make sure this is a master, before taking traffic.
    if (!self->options_.password.empty()) {
      std::vector<std::string> auth = {"AUTH", self->options_.password};
      SendOn(c->ctx, auth, &EventLoopClient::OnAuthReply, c);
    }
    std::vector<std::string> role = {"ROLE"};
    SendOn(c->ctx, role, &EventLoopClient::OnRoleReply, c);
  }

  static void OnAuthReply(redisAsyncContext* ctx, void* r, void* privdata) {
    auto* c = static_cast<Connection*>(privdata);
    auto* reply = static_cast<redisReply*>(r);
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
      log::Error("redis rejected the password", {{"error", std::string(reply->str, reply->len)}});
      if (c->ctx == ctx) c->owner->DropConnection(c, "authentication failed");
    }
  }

  static void OnRoleReply(redisAsyncContext* ctx, void* r, void* privdata) {
    auto* c = static_cast<Connection*>(privdata);
    auto* reply = static_cast<redisReply*>(r);
    if (reply == nullptr || c->ctx != ctx) return;
    bool master = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
                  reply->element[0]->type == REDIS_REPLY_STRING &&
                  absl::string_view(reply->element[0]->str, reply->element[0]->len) == "master";
    if (!master) {
      c->owner->DropConnection(c, reply->type == REDIS_REPLY_ERROR
                                      ? std::string(reply->str, reply->len)
                                      : "server is not a master");
      return;
    }
    c->state = Connection::State::kReady;
    c->backoff = c->owner->options_.reconnect_min_backoff;
    c->missed_pings = 0;
    c->ping_in_flight = false;
    timeval tv = absl::ToTimeval(c->owner->options_.health_check_interval);
    evtimer_add(c->ping_timer, &tv);
    c->owner->UpdateHealth();
  }

  static void OnDisconnect(const redisAsyncContext* ctx, int status) {
    auto* c = static_cast<Connection*>(ctx->data);
    EventLoopClient* self = c->owner;
    if (c->ctx != ctx) return;  // freed on purpose during shutdown
    c->ctx = nullptr;
    c->state = Connection::State::kDown;
    evtimer_del(c->ping_timer);
    self->UpdateHealth();
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(self->queue_mu_);
      stopping = self->stopping_;
    }
    if (!stopping) {
      self->ScheduleReconnect(c, status == REDIS_OK ? "connection closed" : ctx->errstr);
    }
  }

  void ScheduleReconnect(Connection* c, absl::string_view why) {
    UpdateHealth();
    log::Debug("redis connection down", {{"reason", std::string(why)}});
    // Exponential backoff with jitter, so replicas do not reconnect in lockstep.
    static thread_local std::mt19937 rng(std::random_device{}());
    double jitter = std::uniform_real_distribution<double>(0.8, 1.2)(rng);
    timeval tv = absl::ToTimeval(c->backoff * jitter);
    c->backoff = std::min(c->backoff * 2, options_.reconnect_max_backoff);
    evtimer_add(c->reconnect_timer, &tv);
  }

  static void OnReconnectTimer(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Connection*>(arg);
    if (c->ctx == nullptr) c->owner->Connect(c);
  }

  static void OnPingTimer(evutil_socket_t, short, void* arg) {
    auto* c = static_cast<Connection*>(arg);
    EventLoopClient* self = c->owner;
    if (c->state != Connection::State::kReady || c->ctx == nullptr) return;
    if (c->ping_in_flight) {
      if (c->replies_seen != c->replies_at_ping) {
        // Still busy with earlier (large) replies, but alive.
        c->replies_at_ping = c->replies_seen;
      } else if (++c->missed_pings >= kMissedPingsToDrop) {
        self->DropConnection(c, "redis stopped answering pings");
        return;
      } else {
        self->UpdateHealth();
      }
    } else {
      c->replies_at_ping = c->replies_seen;
      c->ping_in_flight = true;
      std::vector<std::string> ping = {"PING"};
      auto* token = new std::pair<Connection*, uint64_t>(c, c->generation);
      SendOn(c->ctx, ping, &EventLoopClient::OnPingReply, token);
    }
    timeval tv = absl::ToTimeval(self->options_.health_check_interval);
    evtimer_add(c->ping_timer, &tv);
  }

  static void OnPingReply(redisAsyncContext*, void* r, void* privdata) {
    auto* token = static_cast<std::pair<Connection*, uint64_t>*>(privdata);
    Connection* c = token->first;
    bool current = token->second == c->generation;
    delete token;
    if (!current || r == nullptr) return;
    c->ping_in_flight = false;
    if (c->missed_pings != 0) {
      c->missed_pings = 0;
      c->owner->UpdateHealth();
    }
  }

  void UpdateHealth() {
    bool now = false;
    for (const Connection& c : connections_) {
      if (c.state == Connection::State::kReady && c.missed_pings < kMissedPingsToReportDown) {
        now = true;
      }
    }
    if (healthy_.exchange(now) != now) {
      if (now) {
        log::Info("redis connection is up");
      } else {
        log::Warning("redis is unreachable");
      }
      absl::MutexLock lock(&listener_mu_);
      if (listener_) listener_(now);
    }
  }

  ClientOptions options_;
  event_base* base_ = nullptr;
  const timeval* common_timeout_ = nullptr;
  event* wakeup_ = nullptr;
  std::vector<Connection> connections_;
  int next_ = 0;
  std::thread thread_;
  std::atomic<bool> healthy_{false};

  std::mutex queue_mu_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  // True while the loop handles replies; it drains the queue right after.
  bool draining_after_reads_ = false;
  std::deque<Queued> batch_;  // loop thread only: the queue being sent

  absl::Mutex listener_mu_;
  std::function<void(bool)> listener_ ABSL_GUARDED_BY(listener_mu_);
};

}  // namespace

std::unique_ptr<Client> Client::Create(ClientOptions options) {
  return std::make_unique<EventLoopClient>(std::move(options));
}

}  // namespace clerkship::redis
