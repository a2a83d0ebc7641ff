#pragma once

// An HTTP/1.1 server on Boost.Beast: asynchronous, keep-alive, a few I/O threads, one strand
// per connection. It enforces the transport limits itself (header and body size, idle, read
// and write timeouts, connection count) and answers malformed requests with the gateway's JSON
// error body before closing; everything else goes to an HttpHandler, which answers each
// request exactly once, from any thread.
//
// Requests on one connection are handled one after another: the next request is read only
// after the previous response is written (no pipelining in parallel).

#include <atomic>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace clerkship::gateway {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

struct HttpServerOptions {
  std::string listen_host = "0.0.0.0";
  int port = 0;  // 0 picks a free port
  int threads = 2;
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 16 << 10;
  absl::Duration idle_timeout = absl::Seconds(60);  // keep-alive connection with no request
  absl::Duration read_timeout = absl::Seconds(15);  // from a request's first byte to its end
  absl::Duration write_timeout = absl::Seconds(15);
  // Beyond this many open connections, new ones are answered 503 with Retry-After and closed.
  int max_connections = 10000;
  absl::Duration stream_heartbeat = absl::Seconds(15);
  // HTTPS (TLS 1.2+) when set: PEM certificate chain and private key.
  std::string tls_cert_chain_pem;
  std::string tls_private_key_pem;
};

class HttpSession;

// One request and the means to answer it. Thread-safe; answer once with Respond() or with a
// stream (BeginStream, StreamWrite..., EndStream). An exchange dropped unanswered answers 500.
class HttpExchange {
 public:
  HttpExchange(std::shared_ptr<HttpSession> session, HttpRequest request, std::string remote_ip);
  ~HttpExchange();
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  const HttpRequest& request() const { return request_; }
  const std::string& remote_ip() const { return remote_ip_; }

  void Respond(HttpResponse response);

  // Sends the status and headers of a chunked response that stays open. From then on the
  // connection is watched: on_client_gone runs once when the client closes it or a write
  // fails, and `heartbeat` is written whenever nothing else was for the heartbeat interval.
  void BeginStream(HttpResponse head, std::string heartbeat, std::function<void()> on_client_gone);
  // Queues one piece of the body; `written(true)` once it is on the wire, false if the
  // connection is gone. Call the next StreamWrite from `written` to keep one in flight.
  void StreamWrite(std::string data, std::function<void(bool)> written);
  // Ends the body and closes the connection.
  void EndStream();

 private:
  std::shared_ptr<HttpSession> session_;
  HttpRequest request_;
  std::string remote_ip_;
  std::atomic<bool> answered_{false};
};

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  virtual void Handle(std::shared_ptr<HttpExchange> exchange) = 0;
  // The server answered a request itself (malformed, too large); for metrics.
  virtual void OnRejected(int http_status) {}
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler* handler);
  ~HttpServer();

  absl::Status Start();
  int port() const { return port_; }
  int open_connections() const;
  // Closes the listening socket; open connections carry on.
  void StopAccepting();
  // Stops the I/O threads and drops every connection. The handler must not hold exchanges.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace clerkship::gateway
