#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "services/notification/channel_senders.h"

namespace clerkship::notification {
namespace {

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlHandle {
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  ~CurlHandle() {
    if (list != nullptr) curl_slist_free_all(list);
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

struct UploadSource {
  const std::string* data;
  size_t offset = 0;
};

size_t ReadUpload(char* buffer, size_t size, size_t count, void* userp) {
  auto* src = static_cast<UploadSource*>(userp);
  size_t n = std::min(size * count, src->data->size() - src->offset);
  std::memcpy(buffer, src->data->data() + src->offset, n);
  src->offset += n;
  return n;
}

size_t DiscardBody(char*, size_t size, size_t count, void*) { return size * count; }

bool IsPrivateAddress(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    uint32_t a = ntohl(reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr);
    return (a >> 24) == 127 || (a >> 24) == 10 || (a >> 24) == 0 ||
           (a >> 20) == ((172u << 4) | 1) ||   // 172.16.0.0/12
           (a >> 16) == ((192u << 8) | 168) ||  // 192.168.0.0/16
           (a >> 16) == ((169u << 8) | 254) ||  // 169.254.0.0/16 (cloud metadata)
           (a >> 22) == ((100u << 2) | 1);      // 100.64.0.0/10
  }
  if (addr->sa_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_LINKLOCAL(&a) || IN6_IS_ADDR_UNSPECIFIED(&a) ||
        IN6_IS_ADDR_V4MAPPED(&a)) {
      return true;
    }
    return (a.s6_addr[0] & 0xfe) == 0xfc;  // fc00::/7 unique local
  }
  return true;
}

// Checked on the address actually connected to, so DNS tricks cannot get around it.
curl_socket_t OpenPublicSocket(void*, curlsocktype, curl_sockaddr* address) {
  if (IsPrivateAddress(&address->addr)) return CURL_SOCKET_BAD;
  return socket(address->family, address->socktype, address->protocol);
}

class CurlEmailSender final : public EmailSender {
 public:
  explicit CurlEmailSender(SmtpOptions options) : options_(std::move(options)) { InitCurlOnce(); }

  AttemptResult Send(const EmailContent& email) override {
    CurlHandle h;
    AttemptResult result;
    if (h.curl == nullptr) {
      result.retryable = true;
      result.error = "cannot initialise the SMTP client";
      return result;
    }
    std::string message = BuildEmailMessage(email);
    UploadSource source{&message};
    std::string from = absl::StrCat("<", BareAddress(options_.from), ">");
    std::string to = absl::StrCat("<", email.to, ">");
    h.list = curl_slist_append(nullptr, to.c_str());
    curl_easy_setopt(h.curl, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(h.curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h.curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(h.curl, CURLOPT_MAIL_RCPT, h.list);
    curl_easy_setopt(h.curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h.curl, CURLOPT_READFUNCTION, &ReadUpload);
    curl_easy_setopt(h.curl, CURLOPT_READDATA, &source);
    curl_easy_setopt(h.curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    curl_easy_setopt(h.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h.curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
    curl_easy_setopt(h.curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (options_.starttls) curl_easy_setopt(h.curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (!options_.user.empty()) {
      curl_easy_setopt(h.curl, CURLOPT_USERNAME, options_.user.c_str());
      curl_easy_setopt(h.curl, CURLOPT_PASSWORD, options_.password.c_str());
    }
    CURLcode rc = curl_easy_perform(h.curl);
    long code = 0;
    curl_easy_getinfo(h.curl, CURLINFO_RESPONSE_CODE, &code);
    result.response_code = static_cast<int>(code);
    if (rc == CURLE_OK) {
      result.delivered = true;
      return result;
    }
    result.error = absl::StrCat("smtp: ", curl_easy_strerror(rc));
    // 5xx replies are permanent (unknown mailbox, rejected content, bad credentials);
    // 4xx replies, timeouts and connection failures are worth another try.
    result.retryable = !(code >= 500 && code < 600);
    return result;
  }

 private:
  SmtpOptions options_;
};

class CurlWebhookSender final : public WebhookSender {
 public:
  explicit CurlWebhookSender(WebhookOptions options) : options_(options) { InitCurlOnce(); }

  AttemptResult Post(const std::string& url, const std::string& body,
                     const std::map<std::string, std::string>& headers) override {
    CurlHandle h;
    AttemptResult result;
    if (h.curl == nullptr) {
      result.retryable = true;
      result.error = "cannot initialise the HTTP client";
      return result;
    }
    h.list = curl_slist_append(h.list, "Content-Type: application/json");
    h.list = curl_slist_append(h.list, "Expect:");  // no 100-continue round trip
    h.list = curl_slist_append(h.list, "User-Agent: clerkship-notification/1");
    for (const auto& [name, value] : headers) {
      h.list = curl_slist_append(h.list, absl::StrCat(name, ": ", value).c_str());
    }
    curl_easy_setopt(h.curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h.curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h.curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h.curl, CURLOPT_POST, 1L);
    curl_easy_setopt(h.curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h.curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h.curl, CURLOPT_HTTPHEADER, h.list);
    curl_easy_setopt(h.curl, CURLOPT_WRITEFUNCTION, &DiscardBody);
    curl_easy_setopt(h.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h.curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.timeout)));
    curl_easy_setopt(h.curl, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<int64_t>(
                         absl::ToInt64Milliseconds(options_.timeout), 5000)));
    if (!options_.allow_private_networks) {
      curl_easy_setopt(h.curl, CURLOPT_OPENSOCKETFUNCTION, &OpenPublicSocket);
    }
    CURLcode rc = curl_easy_perform(h.curl);
    long code = 0;
    curl_easy_getinfo(h.curl, CURLINFO_RESPONSE_CODE, &code);
    result.response_code = static_cast<int>(code);
    if (rc != CURLE_OK) {
      result.retryable = true;
      result.error = rc == CURLE_COULDNT_CONNECT && !options_.allow_private_networks
                         ? "http: could not connect (private and loopback addresses are refused)"
                         : absl::StrCat("http: ", curl_easy_strerror(rc));
      return result;
    }
    if (code >= 200 && code < 300) {
      result.delivered = true;
      return result;
    }
    result.error = absl::StrCat("http: the endpoint answered ", code);
    // 429 and 5xx are the receiver's temporary trouble; other answers will not change.
    result.retryable = code == 429 || code >= 500;
    return result;
  }

 private:
  WebhookOptions options_;
};

}  // namespace

std::unique_ptr<EmailSender> NewCurlEmailSender(SmtpOptions options) {
  return std::make_unique<CurlEmailSender>(std::move(options));
}

std::unique_ptr<WebhookSender> NewCurlWebhookSender(WebhookOptions options) {
  return std::make_unique<CurlWebhookSender>(options);
}

}  // namespace clerkship::notification
