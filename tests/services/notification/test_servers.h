#pragma once

// Real network endpoints for the notification tests: a tiny SMTP server that keeps every
// message it accepts, an HTTP server that records webhook requests and answers with
// scripted status codes, and an in-process applicant service that answers GetApplicant.

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clerkship/applicant/v1/applicant.grpc.pb.h"

namespace clerkship::notification::testing {

// Accepts connections on a loopback port and runs a handler per connection on its own
// thread; Stop() (or the destructor) closes everything and joins.
class TcpServer {
 public:
  virtual ~TcpServer();
  bool Start();
  void Stop();
  int port() const { return port_; }

 protected:
  virtual void Serve(int fd) = 0;

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  absl::Mutex mu_;
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(mu_);
  std::vector<int> open_fds_ ABSL_GUARDED_BY(mu_);
};

struct ReceivedMail {
  std::string mail_from;
  std::vector<std::string> recipients;
  std::string data;  // the message as sent, dot-unstuffed, without the final "."

  std::string Header(const std::string& name) const;
  // The decoded body of the first MIME part of this content type ("text/plain",
  // "text/html"), or of the whole message when it is not multipart.
  std::string Part(const std::string& content_type) const;
};

class SmtpSink final : public TcpServer {
 public:
  std::vector<ReceivedMail> messages() const;
  // Waits until at least n messages arrived; false on timeout.
  bool WaitForMessages(size_t n, absl::Duration timeout) const;

 protected:
  void Serve(int fd) override;

 private:
  mutable absl::Mutex mu_;
  std::vector<ReceivedMail> messages_ ABSL_GUARDED_BY(mu_);
};

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  int answered = 0;
};

class WebhookServer final : public TcpServer {
 public:
  // Status codes for the next requests, in order; afterwards 200.
  void ScriptResponses(std::vector<int> codes);
  std::vector<ReceivedRequest> requests() const;
  bool WaitForRequests(size_t n, absl::Duration timeout) const;
  std::string url(const std::string& path = "/hook") const;

 protected:
  void Serve(int fd) override;

 private:
  mutable absl::Mutex mu_;
  std::deque<int> script_ ABSL_GUARDED_BY(mu_);
  std::vector<ReceivedRequest> requests_ ABSL_GUARDED_BY(mu_);
};

// ApplicantService with GetApplicant only, over a map of profiles.
class FakeApplicantService final
    : public clerkship::applicant::v1::ApplicantService::CallbackService {
 public:
  FakeApplicantService();
  ~FakeApplicantService() override;
  void Put(const clerkship::applicant::v1::Applicant& applicant);
  std::string address() const { return address_; }
  int lookups() const { return lookups_.load(); }

  grpc::ServerUnaryReactor* GetApplicant(grpc::CallbackServerContext* context,
                                         const clerkship::applicant::v1::GetApplicantRequest* request,
                                         clerkship::applicant::v1::Applicant* response) override;

 private:
  absl::Mutex mu_;
  std::map<std::string, clerkship::applicant::v1::Applicant> applicants_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::atomic<int> lookups_{0};
};

// Polls `condition` until it holds; false on timeout.
template <typename F>
bool WaitUntil(F condition, absl::Duration timeout = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

}  // namespace clerkship::notification::testing
