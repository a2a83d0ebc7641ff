#include "tests/services/notification/test_servers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace clerkship::notification::testing {
namespace {

// Buffered reads from a socket.
class Connection {
 public:
  explicit Connection(int fd) : fd_(fd) {}

  bool ReadLine(std::string* line) {
    while (true) {
      size_t end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        *line = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return true;
      }
      if (!Fill()) return false;
    }
  }

  bool ReadExactly(size_t n, std::string* out) {
    while (buffer_.size() < n) {
      if (!Fill()) return false;
    }
    *out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    return true;
  }

  void Write(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

 private:
  bool Fill() {
    char chunk[4096];
    ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  std::string buffer_;
};

// Header lines (unfolded) of a header block, names in lower case.
std::map<std::string, std::string> ParseHeaders(const std::string& block) {
  std::map<std::string, std::string> out;
  std::string last;
  for (absl::string_view line : absl::StrSplit(block, "\r\n")) {
    if (line.empty()) continue;
    if ((line[0] == ' ' || line[0] == '\t') && !last.empty()) {
      out[last] += std::string(absl::StripLeadingAsciiWhitespace(line));
      continue;
    }
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    last = absl::AsciiStrToLower(line.substr(0, colon));
    out[last] = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return out;
}

std::pair<std::string, std::string> SplitHeadersBody(const std::string& message) {
  size_t end = message.find("\r\n\r\n");
  if (end == std::string::npos) return {message, ""};
  return {message.substr(0, end), message.substr(end + 4)};
}

std::string DecodeBody(const std::map<std::string, std::string>& headers,
                       const std::string& body) {
  auto it = headers.find("content-transfer-encoding");
  if (it == headers.end() || absl::AsciiStrToLower(it->second) != "base64") return body;
  std::string compact;
  for (char c : body) {
    if (c != '\r' && c != '\n') compact += c;
  }
  std::string decoded;
  absl::Base64Unescape(compact, &decoded);
  return decoded;
}

}  // namespace

TcpServer::~TcpServer() { Stop(); }

bool TcpServer::Start() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0) {
    return false;
  }
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] {
    while (!stop_) {
      pollfd p = {listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      absl::MutexLock lock(&mu_);
      open_fds_.push_back(fd);
      workers_.emplace_back([this, fd] {
        Serve(fd);
        {
          absl::MutexLock lock(&mu_);
          open_fds_.erase(std::find(open_fds_.begin(), open_fds_.end(), fd));
        }
        close(fd);
      });
    }
  });
  return true;
}

void TcpServer::Stop() {
  if (listen_fd_ < 0) return;
  stop_ = true;
  if (accept_thread_.joinable()) accept_thread_.join();
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);  // unblocks their reads
    workers.swap(workers_);
  }
  for (std::thread& t : workers) t.join();
  close(listen_fd_);
  listen_fd_ = -1;
}

std::string ReceivedMail::Header(const std::string& name) const {
  auto headers = ParseHeaders(SplitHeadersBody(data).first);
  auto it = headers.find(absl::AsciiStrToLower(name));
  return it == headers.end() ? "" : it->second;
}

std::string ReceivedMail::Part(const std::string& content_type) const {
  auto [head, body] = SplitHeadersBody(data);
  auto headers = ParseHeaders(head);
  std::string type = headers["content-type"];
  if (!absl::StartsWith(type, "multipart/")) {
    return absl::StartsWith(type, content_type) ? DecodeBody(headers, body) : "";
  }
  size_t b = type.find("boundary=\"");
  if (b == std::string::npos) return "";
  std::string boundary = type.substr(b + 10, type.find('"', b + 10) - b - 10);
  for (absl::string_view part : absl::StrSplit(body, absl::StrCat("--", boundary))) {
    std::string p(absl::StripPrefix(part, "\r\n"));
    auto [part_head, part_body] = SplitHeadersBody(p);
    auto part_headers = ParseHeaders(part_head);
    if (absl::StartsWith(part_headers["content-type"], content_type)) {
      return DecodeBody(part_headers, part_body);
    }
  }
  return "";
}

std::vector<ReceivedMail> SmtpSink::messages() const {
  absl::MutexLock lock(&mu_);
  return messages_;
}

bool SmtpSink::WaitForMessages(size_t n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return messages_.size() >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

void SmtpSink::Serve(int fd) {
  Connection c(fd);
  c.Write("220 sink.test ESMTP ready\r\n");
  ReceivedMail mail;
  std::string line;
  while (c.ReadLine(&line)) {
    std::string upper = absl::AsciiStrToUpper(line.substr(0, std::min<size_t>(line.size(), 10)));
    if (absl::StartsWith(upper, "EHLO")) {
      c.Write("250-sink.test\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n");
    } else if (absl::StartsWith(upper, "HELO")) {
      c.Write("250 sink.test\r\n");
    } else if (absl::StartsWith(upper, "MAIL FROM:")) {
      mail = ReceivedMail();
      mail.mail_from = line.substr(10);
      c.Write("250 OK\r\n");
    } else if (absl::StartsWith(upper, "RCPT TO:")) {
      std::string rcpt(absl::StripAsciiWhitespace(line.substr(8)));
      mail.recipients.push_back(std::string(absl::StripSuffix(absl::StripPrefix(rcpt, "<"), ">")));
      c.Write("250 OK\r\n");
    } else if (upper == "DATA") {
      c.Write("354 End data with <CR><LF>.<CR><LF>\r\n");
      std::string data;
      while (c.ReadLine(&line) && line != ".") {
        if (absl::StartsWith(line, "..")) line.erase(0, 1);
        absl::StrAppend(&data, line, "\r\n");
      }
      mail.data = std::move(data);
      {
        absl::MutexLock lock(&mu_);
        messages_.push_back(mail);
      }
      c.Write("250 OK queued\r\n");
    } else if (upper == "RSET" || upper == "NOOP") {
      c.Write("250 OK\r\n");
    } else if (upper == "QUIT") {
      c.Write("221 Bye\r\n");
      return;
    } else {
      c.Write("502 Command not implemented\r\n");
    }
  }
}

void WebhookServer::ScriptResponses(std::vector<int> codes) {
  absl::MutexLock lock(&mu_);
  script_.assign(codes.begin(), codes.end());
}

std::vector<ReceivedRequest> WebhookServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

bool WebhookServer::WaitForRequests(size_t n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return requests_.size() >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

std::string WebhookServer::url(const std::string& path) const {
  return absl::StrCat("http://127.0.0.1:", port(), path);
}

void WebhookServer::Serve(int fd) {
  Connection c(fd);
  std::string line;
  if (!c.ReadLine(&line)) return;
  ReceivedRequest request;
  std::vector<std::string> start = absl::StrSplit(line, ' ');
  if (start.size() < 2) return;
  request.method = start[0];
  request.path = start[1];
  std::string head;
  while (c.ReadLine(&line) && !line.empty()) absl::StrAppend(&head, line, "\r\n");
  request.headers = ParseHeaders(head);
  size_t length = 0;
  if (!absl::SimpleAtoi(request.headers["content-length"], &length)) length = 0;
  if (!c.ReadExactly(length, &request.body)) return;
  int code = 200;
  {
    absl::MutexLock lock(&mu_);
    if (!script_.empty()) {
      code = script_.front();
      script_.pop_front();
    }
    request.answered = code;
    requests_.push_back(request);
  }
  c.Write(absl::StrCat("HTTP/1.1 ", code, " Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
}

FakeApplicantService::FakeApplicantService() {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  address_ = absl::StrCat("127.0.0.1:", port);
}

FakeApplicantService::~FakeApplicantService() {
  server_->Shutdown(std::chrono::system_clock::now());
}

void FakeApplicantService::Put(const clerkship::applicant::v1::Applicant& applicant) {
  absl::MutexLock lock(&mu_);
  applicants_[applicant.name()] = applicant;
}

grpc::ServerUnaryReactor* FakeApplicantService::GetApplicant(
    grpc::CallbackServerContext* context,
    const clerkship::applicant::v1::GetApplicantRequest* request,
    clerkship::applicant::v1::Applicant* response) {
  lookups_++;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::MutexLock lock(&mu_);
  auto it = applicants_.find(request->name());
  if (it == applicants_.end()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such applicant"));
  } else {
    *response = it->second;
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

}  // namespace clerkship::notification::testing
