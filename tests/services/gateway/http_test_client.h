#pragma once

// A tiny blocking HTTP/1.1 client over a plain socket, for driving the gateway the way curl
// or a phone would, including bytes no well-behaved client sends. Every read has a timeout so
// a misbehaving server fails the test instead of hanging it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace clerkship::testing {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class HttpConnection {
 public:
  explicit HttpConnection(int port, absl::Duration timeout = absl::Seconds(10)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    SetTimeout(timeout);
  }
  ~HttpConnection() {
    if (fd_ >= 0) close(fd_);
  }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connected() const { return connected_; }

  void SetTimeout(absl::Duration timeout) {
    timeval tv = absl::ToTimeval(timeout);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

  bool SendRaw(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Sends a request; `headers` are "Name: value" lines.
  bool Send(const std::string& method, const std::string& target, const std::string& body = "",
            const std::vector<std::string>& headers = {}) {
    std::string request = absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: localhost\r\n");
    for (const std::string& h : headers) absl::StrAppend(&request, h, "\r\n");
    if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
      absl::StrAppend(&request, "Content-Type: application/json\r\nContent-Length: ", body.size(),
                      "\r\n");
    }
    absl::StrAppend(&request, "\r\n", body);
    return SendRaw(request);
  }

  // Reads one response (Content-Length, chunked, or until the server closes).
  std::optional<HttpResult> Read() {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    HttpResult result;
    std::vector<std::string> lines = absl::StrSplit(buffer_.substr(0, end), "\r\n");
    buffer_.erase(0, end + 4);
    std::vector<std::string> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
    if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &result.status)) {
      return std::nullopt;
    }
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      result.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    if (result.status == 204 || result.status == 304 || last_method_was_head_) return result;
    if (absl::EqualsIgnoreCase(result.header("transfer-encoding"), "chunked")) {
      while (true) {
        size_t eol;
        while ((eol = buffer_.find("\r\n")) == std::string::npos) {
          if (!Fill()) return std::nullopt;
        }
        size_t size = std::stoul(buffer_.substr(0, eol), nullptr, 16);
        while (buffer_.size() < eol + 2 + size + 2) {
          if (!Fill()) return std::nullopt;
        }
        result.body += buffer_.substr(eol + 2, size);
        buffer_.erase(0, eol + 2 + size + 2);
        if (size == 0) break;
      }
    } else if (!result.header("content-length").empty()) {
      size_t length = std::stoul(result.header("content-length"));
      while (buffer_.size() < length) {
        if (!Fill()) return std::nullopt;
      }
      result.body = buffer_.substr(0, length);
      buffer_.erase(0, length);
    } else {
      while (Fill()) {
      }
      result.body = std::move(buffer_);
      buffer_.clear();
    }
    return result;
  }

  // Reads raw bytes until `needle` has arrived (true) or the timeout/close (false). The bytes
  // read so far are in received().
  bool ReadUntil(const std::string& needle, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (!absl::StrContains(buffer_, needle)) {
      if (absl::Now() > deadline) return false;
      SetTimeout(std::max(absl::Milliseconds(10), deadline - absl::Now()));
      if (!Fill()) return false;
    }
    return true;
  }
  const std::string& received() const { return buffer_; }
  void ClearReceived() { buffer_.clear(); }

  // True when the server closes the connection within `timeout`.
  bool ClosedWithin(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      SetTimeout(std::max(absl::Milliseconds(10), deadline - absl::Now()));
      char c[4096];
      ssize_t n = recv(fd_, c, sizeof(c), 0);
      if (n == 0) return true;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return true;
    }
    return false;
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  bool Fill() {
    char chunk[16384];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool last_method_was_head_ = false;
  std::string buffer_;
};

// One request on a fresh connection.
inline HttpResult HttpCall(int port, const std::string& method, const std::string& target,
                           const std::string& body = "",
                           const std::vector<std::string>& headers = {}) {
  HttpConnection c(port);
  if (!c.connected() || !c.Send(method, target, body, headers)) return HttpResult{};
  std::optional<HttpResult> r = c.Read();
  return r.value_or(HttpResult{});
}

}  // namespace clerkship::testing
