#include "services/notification/email_message.h"

#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace clerkship::notification {
namespace {

std::string OneLine(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) out += (c == '\r' || c == '\n') ? ' ' : c;
  return out;
}

bool IsPlainAscii(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// RFC 2047 encoded-words of at most 75 characters, split between UTF-8 characters.
std::string EncodeHeaderText(const std::string& text) {
  if (IsPlainAscii(text) && text.size() <= 900) return text;
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t n = std::min<size_t>(45, text.size() - i);  // 45 bytes → 60 base64 characters
    while (i + n < text.size() && n > 1 &&
           (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) {
      --n;
    }
    if (!out.empty()) out += "\r\n ";
    absl::StrAppend(&out, "=?UTF-8?B?", absl::Base64Escape(text.substr(i, n)), "?=");
    i += n;
  }
  return out;
}

std::string Base64Lines(const std::string& data) {
  std::string encoded = absl::Base64Escape(data);
  std::string out;
  for (size_t i = 0; i < encoded.size(); i += 76) {
    absl::StrAppend(&out, encoded.substr(i, 76), "\r\n");
  }
  return out;
}

std::string Part(const std::string& content_type, const std::string& body) {
  return absl::StrCat("Content-Type: ", content_type, "; charset=UTF-8\r\n",
                      "Content-Transfer-Encoding: base64\r\n\r\n", Base64Lines(body));
}

}  // namespace

std::string BareAddress(const std::string& mailbox) {
  size_t open = mailbox.rfind('<');
  size_t close = mailbox.rfind('>');
  if (open == std::string::npos || close == std::string::npos || close < open) return mailbox;
  return mailbox.substr(open + 1, close - open - 1);
}

std::string BuildEmailMessage(const EmailContent& email) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  std::string boundary = absl::StrFormat("=_clerkship_%016x", rng());
  std::string headers = absl::StrCat(
      "From: ", OneLine(email.from), "\r\n", "To: <", OneLine(email.to), ">\r\n",
      "Subject: ", EncodeHeaderText(OneLine(email.subject)), "\r\n",
      "Date: ", absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", email.date, absl::UTCTimeZone()),
      "\r\n", "Message-ID: <", OneLine(email.message_id), ">\r\n", "MIME-Version: 1.0\r\n");
  if (email.html_body.empty()) {
    return absl::StrCat(headers, Part("text/plain", email.text_body));
  }
  return absl::StrCat(headers, "Content-Type: multipart/alternative; boundary=\"", boundary,
                      "\"\r\n\r\n", "--", boundary, "\r\n", Part("text/plain", email.text_body),
                      "--", boundary, "\r\n", Part("text/html", email.html_body), "--",
                      boundary, "--\r\n");
}

}  // namespace clerkship::notification
