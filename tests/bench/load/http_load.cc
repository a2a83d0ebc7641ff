#include "tests/bench/load/http_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "tests/bench/load/clock.h"
#include "tests/bench/load/scenarios.h"

namespace clerkship::bench {

namespace {
bool ContainsIgnoreCase(absl::string_view haystack, absl::string_view needle) {
  return absl::StrContains(absl::AsciiStrToLower(haystack), needle);
}
}  // namespace

long ParseHttpResponse(const char* data, size_t size, int* status, bool* keep_alive) {
  absl::string_view all(data, size);
  size_t head_end = all.find("\r\n\r\n");
  if (head_end == absl::string_view::npos) return size > 65536 ? -1 : 0;
  absl::string_view head = all.substr(0, head_end);
  size_t line_end = head.find("\r\n");
  absl::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK"
  if (!absl::StartsWith(status_line, "HTTP/1.") || status_line.size() < 12) return -1;
  if (!absl::SimpleAtoi(status_line.substr(9, 3), status)) return -1;
  bool http10 = status_line[7] == '0';
  *keep_alive = !http10;
  long content_length = -1;
  bool chunked = false;
  absl::string_view rest = line_end == absl::string_view::npos ? "" : head.substr(line_end + 2);
  while (!rest.empty()) {
    size_t eol = rest.find("\r\n");
    absl::string_view line = rest.substr(0, eol);
    rest = eol == absl::string_view::npos ? "" : rest.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    absl::string_view name = line.substr(0, colon);
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (absl::EqualsIgnoreCase(name, "content-length")) {
      if (!absl::SimpleAtoi(value, &content_length)) return -1;
    } else if (absl::EqualsIgnoreCase(name, "transfer-encoding")) {
      chunked = ContainsIgnoreCase(value, "chunked");
    } else if (absl::EqualsIgnoreCase(name, "connection")) {
      if (ContainsIgnoreCase(value, "close")) *keep_alive = false;
      if (ContainsIgnoreCase(value, "keep-alive")) *keep_alive = true;
    }
  }
  size_t body = head_end + 4;
  if (chunked) {
    size_t at = body;
    for (;;) {
      size_t eol = all.find("\r\n", at);
      if (eol == absl::string_view::npos) return 0;
      absl::string_view size_text = all.substr(at, eol - at);
      size_t semi = size_text.find(';');
      if (semi != absl::string_view::npos) size_text = size_text.substr(0, semi);
      unsigned long chunk = 0;
      if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &chunk)) return -1;
      at = eol + 2;
      if (chunk == 0) {
        // Optional trailers, then an empty line.
        size_t end = all.find("\r\n", at);
        while (end != absl::string_view::npos && end != at) {
          at = end + 2;
          end = all.find("\r\n", at);
        }
        if (end == absl::string_view::npos) return 0;
        return static_cast<long>(end + 2);
      }
      if (all.size() < at + chunk + 2) return 0;
      at += chunk + 2;
    }
  }
  if (content_length < 0) {
    // No length and not chunked: the body runs to the end of the connection; only
    // bodiless statuses are usable on a keep-alive connection.
    if (*status == 204 || *status == 304 || *status / 100 == 1) return static_cast<long>(body);
    return -1;
  }
  if (all.size() < body + static_cast<size_t>(content_length)) return 0;
  return static_cast<long>(body + static_cast<size_t>(content_length));
}

namespace {

struct Connection {
  int fd = -1;
  bool connecting = false;
  std::string out;
  size_t out_done = 0;
  std::string in;
  bool busy = false;
  int64_t start = 0;
  OpContext ctx;
  MethodStats* method = nullptr;
  std::function<void(bool)> done;
};

// One epoll thread serving every connection.
class HttpEngine {
 public:
  HttpEngine(std::string host, int port) : host_(std::move(host)), port_(port) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev);
    thread_ = std::thread([this] { Loop(); });
  }

  ~HttpEngine() {
    stop_.store(true);
    Wake();
    thread_.join();
    for (auto& c : connections_) {
      if (c && c->fd >= 0) close(c->fd);
    }
    close(wake_);
    close(epoll_);
  }

  // Sends `request` on the slot's connection; `done(status or -1 for a transport error)`.
  void Submit(const OpContext& ctx, std::string request, MethodStats* method,
              std::function<void(bool)> done) {
    {
      absl::MutexLock lock(&mu_);
      queue_.push_back(Pending{ctx, std::move(request), method, std::move(done)});
    }
    if (std::this_thread::get_id() != thread_.get_id()) Wake();
  }

 private:
  struct Pending {
    OpContext ctx;
    std::string request;
    MethodStats* method;
    std::function<void(bool)> done;
  };

  void Wake() {
    uint64_t one = 1;
    ssize_t ignored = write(wake_, &one, sizeof(one));
    (void)ignored;
  }

  Connection* ConnectionFor(int slot) {
    if (static_cast<size_t>(slot) >= connections_.size()) connections_.resize(slot + 1);
    auto& c = connections_[slot];
    if (!c) c = std::make_unique<Connection>();
    return c.get();
  }

  bool Connect(Connection* c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return false;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    if (inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) {
      addrinfo hints{}, *res = nullptr;
      hints.ai_family = AF_INET;
      if (getaddrinfo(host_.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return false;
      addr.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
      freeaddrinfo(res);
    }
    int rc = connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    if (rc != 0 && errno != EINPROGRESS) {
      close(c->fd);
      c->fd = -1;
      return false;
    }
    c->connecting = rc != 0;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.ptr = c;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &ev);
    return true;
  }

  void Drop(Connection* c) {
    if (c->fd >= 0) {
      epoll_ctl(epoll_, EPOLL_CTL_DEL, c->fd, nullptr);
      close(c->fd);
    }
    c->fd = -1;
    c->connecting = false;
    c->in.clear();
  }

  void Finish(Connection* c, const std::string& error, int status) {
    int64_t end = NowNanos();
    c->busy = false;
    ScenarioStats* stats = c->ctx.stats;
    bool ok = error.empty() && status / 100 == 2;
    if (stats != nullptr && stats->InWindow(end)) {
      if (ok) {
        c->method->RecordOk(end - c->start);
      } else {
        c->method->RecordError(error.empty() ? absl::StrCat("HTTP ", status) : error);
      }
    }
    auto done = std::move(c->done);
    c->done = nullptr;
    done(ok);
  }

  void StartPending(Pending p) {
    Connection* c = ConnectionFor(p.ctx.slot);
    if (c->busy) {  // a closed-loop slot never overlaps itself; refuse rather than corrupt
      p.done(false);
      return;
    }
    c->busy = true;
    c->ctx = p.ctx;
    c->method = p.method;
    c->done = std::move(p.done);
    c->out = std::move(p.request);
    c->out_done = 0;
    c->start = NowNanos();
    if (c->fd < 0 && !Connect(c)) {
      Finish(c, "CONNECT_FAILED", 0);
      return;
    }
    if (!c->connecting) Flush(c);
  }

  void Flush(Connection* c) {
    while (c->out_done < c->out.size()) {
      ssize_t n = send(c->fd, c->out.data() + c->out_done, c->out.size() - c->out_done,
                       MSG_NOSIGNAL);
      if (n > 0) {
        c->out_done += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      Drop(c);
      Finish(c, "SEND_FAILED", 0);
      return;
    }
  }

  void OnReadable(Connection* c) {
    char buf[65536];
    for (;;) {
      ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
      if (n > 0) {
        c->in.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      // Closed by the server (idle keep-alive timeout, or an error).
      bool was_busy = c->busy;
      Drop(c);
      if (was_busy) Finish(c, "CONNECTION_CLOSED", 0);
      return;
    }
    if (!c->busy) {
      c->in.clear();
      return;
    }
    int status = 0;
    bool keep_alive = true;
    long used = ParseHttpResponse(c->in.data(), c->in.size(), &status, &keep_alive);
    if (used == 0) return;
    if (used < 0) {
      Drop(c);
      Finish(c, "BAD_RESPONSE", 0);
      return;
    }
    c->in.erase(0, static_cast<size_t>(used));
    if (!keep_alive) Drop(c);
    Finish(c, "", status);
  }

  void Loop() {
    epoll_event events[256];
    while (!stop_.load()) {
      std::vector<Pending> pending;
      {
        absl::MutexLock lock(&mu_);
        pending.swap(queue_);
      }
      for (auto& p : pending) StartPending(std::move(p));
      {
        // Completions above may have queued follow-ups; do not sleep on them.
        absl::MutexLock lock(&mu_);
        if (!queue_.empty()) continue;
      }
      int n = epoll_wait(epoll_, events, 256, 100);
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Connection*>(events[i].data.ptr);
        if (c == nullptr) {
          uint64_t v;
          while (read(wake_, &v, sizeof(v)) > 0) {
          }
          continue;
        }
        if (c->fd < 0) continue;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) {
          if (!(events[i].events & EPOLLIN)) {
            bool was_busy = c->busy;
            Drop(c);
            if (was_busy) Finish(c, "CONNECTION_ERROR", 0);
            continue;
          }
        }
        if (c->connecting && (events[i].events & EPOLLOUT)) {
          int err = 0;
          socklen_t len = sizeof(err);
          getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
          c->connecting = false;
          if (err != 0) {
            Drop(c);
            if (c->busy) Finish(c, "CONNECT_FAILED", 0);
            continue;
          }
        }
        if ((events[i].events & EPOLLOUT) && c->busy) Flush(c);
        if (c->fd >= 0 && (events[i].events & EPOLLIN)) OnReadable(c);
      }
    }
  }

  std::string host_;
  int port_;
  int epoll_ = -1;
  int wake_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Connection>> connections_;  // loop thread only
};

class HttpGetRotationScenario : public Scenario {
 public:
  explicit HttpGetRotationScenario(ScenarioEnv* env) : env_(env) {}
  std::string name() const override { return "http_get_rotation"; }
  std::string baseline() const override { return "get_rotation"; }
  std::vector<std::string> methods() const override { return {"GET /v1/rotations/{x}"}; }
  bool SupportsOpenLoop() const override { return false; }

  absl::Status Check() override {
    if (env_->endpoints.gateway.empty()) {
      return absl::FailedPreconditionError(
          "no gateway address (clerkship-gateway is missing or was not started)");
    }
    if (env_->endpoints.token.empty()) {
      return absl::FailedPreconditionError(
          "no bearer token (clerkship-admin token failed or was not run)");
    }
    if (engine_ == nullptr) {
      const std::string& addr = env_->endpoints.gateway;
      size_t colon = addr.rfind(':');
      int port = 0;
      if (colon == std::string::npos || !absl::SimpleAtoi(addr.substr(colon + 1), &port)) {
        return absl::InvalidArgumentError("gateway address must be host:port");
      }
      engine_ = std::make_unique<HttpEngine>(addr.substr(0, colon), port);
      head_ = absl::StrCat(" HTTP/1.1\r\nHost: ", addr,
                           "\r\nAuthorization: Bearer ", env_->endpoints.token,
                           "\r\nAccept: application/json\r\n\r\n");
    }
    return absl::OkStatus();
  }

  void StartOp(const OpContext& ctx, std::function<void(bool)> done) override {
    std::string request =
        absl::StrCat("GET /v1/", RotationName(env_->data, static_cast<int>(
                                                              Mix(ctx.seq) % env_->data.rotations)),
                     head_);
    engine_->Submit(ctx, std::move(request), ctx.stats->method(0), std::move(done));
  }

 private:
  ScenarioEnv* env_;
  std::unique_ptr<HttpEngine> engine_;
  std::string head_;
};

}  // namespace

std::unique_ptr<Scenario> MakeHttpGetRotationScenario(ScenarioEnv* env) {
  return std::make_unique<HttpGetRotationScenario>(env);
}

}  // namespace clerkship::bench
