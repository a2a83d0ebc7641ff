#pragma once

// The two outside channels. Each call is one attempt, blocking, made on a delivery-worker
// thread (never on a gRPC or Redis callback thread). Implementations use libcurl.

#include <map>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "services/notification/email_message.h"

namespace clerkship::notification {

struct AttemptResult {
  bool delivered = false;
  bool retryable = false;  // meaningful when !delivered
  int response_code = 0;   // SMTP reply code or HTTP status; 0 when nothing came back
  std::string error;       // empty on success; never contains secrets
};

class EmailSender {
 public:
  virtual ~EmailSender() = default;
  virtual AttemptResult Send(const EmailContent& email) = 0;
};

class WebhookSender {
 public:
  virtual ~WebhookSender() = default;
  virtual AttemptResult Post(const std::string& url, const std::string& body,
                             const std::map<std::string, std::string>& headers) = 0;
};

struct SmtpOptions {
  std::string url;  // smtp://host:port or smtps://host:port
  std::string user;
  std::string password;
  std::string from = "Clerkship <no-reply@clerkship.example>";
  bool starttls = false;  // require STARTTLS on smtp://
  absl::Duration timeout = absl::Seconds(30);
};

struct WebhookOptions {
  absl::Duration timeout = absl::Seconds(10);
  // Loopback, private and link-local destinations are refused unless allowed (they would
  // let anyone with an account make the service call internal endpoints).
  bool allow_private_networks = false;
};

std::unique_ptr<EmailSender> NewCurlEmailSender(SmtpOptions options);
std::unique_ptr<WebhookSender> NewCurlWebhookSender(WebhookOptions options);

}  // namespace clerkship::notification
