#pragma once

// An RFC 5322 / MIME message for one notification: multipart/alternative with a plain-text
// and (when present) an HTML part, both UTF-8 in base64, subject encoded per RFC 2047 when
// it is not plain ASCII. Header values are stripped of line breaks so that no field of a
// notification can inject headers.

#include <string>

#include "absl/time/time.h"

namespace clerkship::notification {

struct EmailContent {
  std::string from;        // "Clerkship <no-reply@clerkship.example>" or a bare address
  std::string to;          // bare address
  std::string subject;
  std::string text_body;
  std::string html_body;   // may be empty
  std::string message_id;  // without angle brackets; stable across retries
  absl::Time date;
};

std::string BuildEmailMessage(const EmailContent& email);

// The bare address inside "Name <addr@host>", or the input when there are no brackets.
std::string BareAddress(const std::string& mailbox);

}  // namespace clerkship::notification
