#include "services/gateway/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <list>
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/logging/log.h"
#include "services/gateway/http_errors.h"

namespace clerkship::gateway {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct HttpServer::Impl {
  HttpServerOptions options;
  HttpHandler* handler;
  net::io_context ioc;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::atomic<int> connections{0};
  // Connections over max_connections that are being answered 503 (a few, briefly).
  std::atomic<int> shedding{0};
  std::unique_ptr<net::ssl::context> ssl;  // HTTPS when set
  std::atomic<bool> accepting{false};
  // Live connections, so that Stop() can close them gracefully.
  std::mutex sessions_mu;
  std::list<std::weak_ptr<HttpSession>> sessions;

  Impl(HttpServerOptions o, HttpHandler* h)
      : options(std::move(o)), handler(h), ioc(std::max(1, options.threads)), acceptor(ioc) {}

  void Accept();
};

namespace {

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

bool IsHttpParseError(const beast::error_code& ec) {
  return &ec.category() == &http::make_error_code(http::error::bad_target).category();
}

}  // namespace

// A connection, plain or TLS; what HttpExchange and HttpServer need of it.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  virtual ~HttpSession() = default;
  virtual void Start() = 0;
  virtual void GracefulClose() = 0;
  virtual void Respond(HttpResponse response) = 0;
  virtual void BeginStream(HttpResponse head, std::string heartbeat,
                           std::function<void()> on_gone) = 0;
  virtual void StreamWrite(std::string data, std::function<void(bool)> written) = 0;
  virtual void EndStream() = 0;

  // Runs f on the connection's strand.
  template <typename F>
  void Post(F&& f) {
    net::post(executor_, std::forward<F>(f));
  }

 protected:
  explicit HttpSession(net::any_io_executor executor) : executor_(std::move(executor)) {}

 private:
  net::any_io_executor executor_;
};

namespace {

// Time a connection over the limit gets to send the request it is answered 503 to.
constexpr auto kShedReadTimeout = std::chrono::seconds(2);

}  // namespace

// Stream is beast::tcp_stream (HTTP) or beast::ssl_stream<beast::tcp_stream> (HTTPS).
template <typename Stream>
class BasicHttpSession final : public HttpSession {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  // `shed`: the server is at max_connections; this connection only gets a 503 and is closed.
  template <typename... TlsContext>
  BasicHttpSession(tcp::socket socket, HttpServer::Impl* server, bool shed,
                   TlsContext&... tls_context)
      : HttpSession(socket.get_executor()),
        stream_(std::move(socket), tls_context...),
        server_(server),
        shed_(shed),
        heartbeat_(stream_.get_executor()) {
    beast::error_code ec;
    auto endpoint = Tcp().socket().remote_endpoint(ec);
    if (!ec) remote_ip_ = endpoint.address().to_string();
    Tcp().socket().set_option(tcp::no_delay(true), ec);
    (shed_ ? server_->shedding : server_->connections).fetch_add(1);
  }
  ~BasicHttpSession() override {
    if (registered_) {
      std::lock_guard<std::mutex> lock(server_->sessions_mu);
      server_->sessions.erase(registration_);
    }
    (shed_ ? server_->shedding : server_->connections).fetch_sub(1);
  }

  void Start() override {
    {
      std::lock_guard<std::mutex> lock(server_->sessions_mu);
      registration_ = server_->sessions.insert(server_->sessions.end(), weak_from_this());
      registered_ = true;
    }
    net::dispatch(stream_.get_executor(), [self = Self()] {
      if constexpr (kTls) {
        self->Handshake();
      } else {
        self->WaitForRequest();
      }
    });
  }

  // Closes once the response or event being written is out (server shutdown).
  void GracefulClose() override {
    if (writing_ || responding_) {
      close_when_written_ = true;
      return;
    }
    Close();
  }

  // --- unary responses -------------------------------------------------------------------

  void Respond(HttpResponse response) override {
    if (closed_) return;
    response.version(request_version_);
    bool keep_alive = request_keep_alive_ && server_->accepting.load() && response.keep_alive();
    response.keep_alive(keep_alive);
    response.prepare_payload();
    auto message = std::make_shared<HttpResponse>(std::move(response));
    Tcp().expires_after(ToChrono(server_->options.write_timeout));
    responding_ = true;
    http::async_write(
        stream_, *message,
        [self = Self(), message, keep_alive](beast::error_code ec, size_t) {
          self->responding_ = false;
          if (ec || self->close_when_written_) {
            self->Close();
            return;
          }
          if (self->linger_after_response_) {
            self->LingerAndClose();
            return;
          }
          if (!keep_alive) {
            self->Close();
            return;
          }
          self->WaitForRequest();
        });
  }

  // --- streams ---------------------------------------------------------------------------

  void BeginStream(HttpResponse head, std::string heartbeat,
                   std::function<void()> on_gone) override {
    on_gone_ = std::move(on_gone);
    if (closed_) {
      FireGone();
      return;
    }
    streaming_ = true;
    heartbeat_text_ = std::move(heartbeat);
    stream_head_ = std::make_unique<http::response<http::empty_body>>();
    stream_head_->version(request_version_);
    stream_head_->result(head.result());
    for (const auto& field : head) stream_head_->set(field.name_string(), field.value());
    stream_head_->keep_alive(false);
    stream_head_->chunked(true);
    head_serializer_ = std::make_unique<http::response_serializer<http::empty_body>>(*stream_head_);
    writing_ = true;
    Tcp().expires_after(ToChrono(server_->options.write_timeout));
    http::async_write_header(stream_, *head_serializer_,
                             [self = Self()](beast::error_code ec, size_t) {
                               self->writing_ = false;
                               if (ec) {
                                 self->Close();
                                 return;
                               }
                               self->header_sent_ = true;
                               self->WatchClient();
                               self->ScheduleHeartbeat();
                               self->FlushChunks();
                             });
  }

  void StreamWrite(std::string data, std::function<void(bool)> written) override {
    if (closed_ || !streaming_) {
      if (written) written(false);
      return;
    }
    if (data.empty()) {  // an empty chunk would end the body
      if (written) written(true);
      return;
    }
    chunks_.push_back(
        {absl::StrCat(absl::Hex(data.size()), "\r\n", data, "\r\n"), std::move(written), false});
    FlushChunks();
  }

  void EndStream() override {
    if (closed_) return;
    if (!streaming_) {
      Close();
      return;
    }
    chunks_.push_back({"0\r\n\r\n", nullptr, true});
    FlushChunks();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    heartbeat_.cancel();
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
    Tcp().close();
    for (Chunk& c : chunks_) {
      if (c.written) c.written(false);
    }
    chunks_.clear();
    FireGone();
  }

  const std::string& remote_ip() const { return remote_ip_; }

 private:
  std::shared_ptr<BasicHttpSession> Self() {
    return std::static_pointer_cast<BasicHttpSession>(shared_from_this());
  }
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }
  static std::chrono::steady_clock::duration ShedTimeout() {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(kShedReadTimeout);
  }

  void Handshake() {
    Tcp().expires_after(shed_ ? ShedTimeout() : ToChrono(server_->options.read_timeout));
    if constexpr (kTls) {
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = Self()](beast::error_code ec) {
                                if (ec) {  // not TLS, an untrusted client, a timeout
                                  self->Close();
                                  return;
                                }
                                self->WaitForRequest();
                              });
    }
  }

  struct Chunk {
    std::string bytes;
    std::function<void(bool)> written;
    bool last;
  };

  void FireGone() {
    if (on_gone_) {
      auto gone = std::move(on_gone_);
      on_gone_ = nullptr;
      gone();
    }
  }

  // --- reading requests ------------------------------------------------------------------

  void WaitForRequest() {
    if (closed_) return;
    if (!server_->accepting.load()) {
      Close();
      return;
    }
    if (buffer_.size() > 0) {  // the client already sent the next request
      ReadHeader();
      return;
    }
    Tcp().expires_after(shed_ ? ShedTimeout() : ToChrono(server_->options.idle_timeout));
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = Self()](beast::error_code ec, size_t n) {
                              if (ec) {
                                self->Close();
                                return;
                              }
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    Tcp().expires_after(shed_ ? ShedTimeout() : ToChrono(server_->options.read_timeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = Self()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) {
      OnReadError(ec);
      return;
    }
    auto length = parser_->content_length();
    if (length.has_value() && *length > server_->options.max_body_bytes) {
      RejectAndClose(
          413, absl::StatusCode::kInvalidArgument,
          absl::StrCat("request body is larger than ", server_->options.max_body_bytes, " bytes"),
          "BODY_TOO_LARGE");
      return;
    }
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      auto interim = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
      net::async_write(stream_, net::buffer(*interim),
                       [self = Self(), interim](beast::error_code ec, size_t) {
                         if (ec) {
                           self->Close();
                           return;
                         }
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) {
      OnRequest();
      return;
    }
    http::async_read(stream_, buffer_, *parser_,
                     [self = Self()](beast::error_code ec, size_t) {
                       if (ec) {
                         self->OnReadError(ec);
                         return;
                       }
                       self->OnRequest();
                     });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      RejectAndClose(
          413, absl::StatusCode::kInvalidArgument,
          absl::StrCat("request body is larger than ", server_->options.max_body_bytes, " bytes"),
          "BODY_TOO_LARGE");
    } else if (ec == http::error::header_limit) {
      RejectAndClose(431, absl::StatusCode::kInvalidArgument, "request headers are too large",
                     "HEADERS_TOO_LARGE");
    } else if (IsHttpParseError(ec) && ec != http::error::end_of_stream &&
               ec != http::error::partial_message) {
      RejectAndClose(400, absl::StatusCode::kInvalidArgument,
                     absl::StrCat("malformed HTTP request: ", ec.message()), "MALFORMED_HTTP");
    } else {
      // End of stream, reset, or a timeout: nobody to answer.
      Close();
    }
  }

  // After an error answer, the client may still be sending: closing with unread data would
  // reset the connection and could destroy the answer before the client reads it. So stop
  // sending, read and discard for a short while, then close (a "lingering close").
  void LingerAndClose() {
    beast::error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    Tcp().expires_after(std::chrono::milliseconds(500));
    Discard();
  }

  void Discard() {
    stream_.async_read_some(net::buffer(discard_),
                            [self = Self()](beast::error_code ec, size_t n) {
                              self->lingered_ += n;
                              if (ec || self->lingered_ > (1u << 20)) {
                                self->Close();
                                return;
                              }
                              self->Discard();
                            });
  }

  void RejectAndClose(int status, absl::StatusCode code, const std::string& message,
                      absl::string_view reason, absl::string_view retry_after = "") {
    server_->handler->OnRejected(status);
    linger_after_response_ = true;
    HttpError error = PlainError(status, code, message, reason);
    HttpResponse response(static_cast<http::status>(status), 11);
    response.set(http::field::content_type, "application/json");
    if (!retry_after.empty()) {
      response.set(http::field::retry_after,
                   beast::string_view(retry_after.data(), retry_after.size()));
    }
    response.body() = std::move(error.body);
    request_keep_alive_ = false;
    request_version_ = 11;
    Respond(std::move(response));
  }

  void OnRequest() {
    unsigned version = parser_->get().version();
    if (version != 10 && version != 11) {
      RejectAndClose(505, absl::StatusCode::kInvalidArgument,
                     "only HTTP/1.0 and HTTP/1.1 are served", "HTTP_VERSION_NOT_SUPPORTED");
      return;
    }
    if (shed_) {
      RejectAndClose(503, absl::StatusCode::kUnavailable,
                     "the gateway has too many open connections; retry later", "OVERLOADED",
                     "1");
      return;
    }
    Tcp().expires_never();
    HttpRequest request = parser_->release();
    parser_.reset();
    request_version_ = request.version();
    request_keep_alive_ = request.keep_alive();
    auto exchange =
        std::make_shared<HttpExchange>(Self(), std::move(request), remote_ip_);
    server_->handler->Handle(std::move(exchange));
  }

  // --- stream plumbing -------------------------------------------------------------------

  void WatchClient() {
    if (closed_) return;
    // Clients send nothing on an event stream; a completed read means data (ignored) or,
    // usually, that they went away.
    Tcp().expires_never();
    stream_.async_read_some(net::buffer(discard_),
                            [self = Self()](beast::error_code ec, size_t) {
                              if (ec) {
                                self->Close();
                                return;
                              }
                              self->WatchClient();
                            });
  }

  void ScheduleHeartbeat() {
    if (closed_) return;
    heartbeat_.expires_after(ToChrono(server_->options.stream_heartbeat));
    heartbeat_.async_wait([self = Self()](beast::error_code ec) {
      if (ec || self->closed_) return;
      if (!self->writing_ && self->chunks_.empty() && !self->heartbeat_text_.empty()) {
        self->StreamWrite(self->heartbeat_text_, nullptr);
      }
      self->ScheduleHeartbeat();
    });
  }

  void FlushChunks() {
    if (closed_ || writing_ || !header_sent_ || chunks_.empty()) return;
    writing_ = true;
    in_flight_ = std::move(chunks_.front());
    chunks_.pop_front();
    Tcp().expires_after(ToChrono(server_->options.write_timeout));
    net::async_write(stream_, net::buffer(in_flight_.bytes),
                     [self = Self()](beast::error_code ec, size_t) {
                       self->writing_ = false;
                       Chunk done = std::move(self->in_flight_);
                       if (ec) {
                         if (done.written) done.written(false);
                         self->Close();
                         return;
                       }
                       if (done.written) done.written(true);
                       if (done.last || self->close_when_written_) {
                         self->Close();
                         return;
                       }
                       self->FlushChunks();
                     });
  }

  Stream stream_;
  HttpServer::Impl* server_;
  const bool shed_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_ip_;
  unsigned request_version_ = 11;
  bool request_keep_alive_ = true;
  bool closed_ = false;
  bool responding_ = false;
  bool close_when_written_ = false;
  bool linger_after_response_ = false;
  size_t lingered_ = 0;
  bool registered_ = false;
  std::list<std::weak_ptr<HttpSession>>::iterator registration_;

  bool streaming_ = false;
  bool header_sent_ = false;
  bool writing_ = false;
  std::string heartbeat_text_;
  std::function<void()> on_gone_;
  std::unique_ptr<http::response<http::empty_body>> stream_head_;
  std::unique_ptr<http::response_serializer<http::empty_body>> head_serializer_;
  std::deque<Chunk> chunks_;
  Chunk in_flight_;
  net::steady_timer heartbeat_;
  std::array<char, 512> discard_;
};

// --- HttpExchange -------------------------------------------------------------------------

HttpExchange::HttpExchange(std::shared_ptr<HttpSession> session, HttpRequest request,
                           std::string remote_ip)
    : session_(std::move(session)),
      request_(std::move(request)),
      remote_ip_(std::move(remote_ip)) {}

HttpExchange::~HttpExchange() {
  if (!answered_.load()) {
    // A handler bug must not leave the client waiting forever.
    HttpResponse response(http::status::internal_server_error, 11);
    response.set(http::field::content_type, "application/json");
    response.body() =
        PlainError(500, absl::StatusCode::kInternal, "internal error", "UNANSWERED").body;
    session_->Post([s = session_, r = std::move(response)]() mutable { s->Respond(std::move(r)); });
  }
}

void HttpExchange::Respond(HttpResponse response) {
  if (answered_.exchange(true)) return;
  session_->Post([s = session_, r = std::move(response)]() mutable { s->Respond(std::move(r)); });
}

void HttpExchange::BeginStream(HttpResponse head, std::string heartbeat,
                               std::function<void()> on_client_gone) {
  if (answered_.exchange(true)) return;
  session_->Post([s = session_, h = std::move(head), hb = std::move(heartbeat),
                  gone = std::move(on_client_gone)]() mutable {
    s->BeginStream(std::move(h), std::move(hb), std::move(gone));
  });
}

void HttpExchange::StreamWrite(std::string data, std::function<void(bool)> written) {
  session_->Post([s = session_, d = std::move(data), w = std::move(written)]() mutable {
    s->StreamWrite(std::move(d), std::move(w));
  });
}

void HttpExchange::EndStream() {
  session_->Post([s = session_] { s->EndStream(); });
}

// --- HttpServer ---------------------------------------------------------------------------

void HttpServer::Impl::Accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (accepting.load() && ec != net::error::operation_aborted) Accept();
      return;
    }
    // Over the limit, a connection is read just far enough to answer 503 with Retry-After
    // (briefly, and only a bounded number at once); beyond that it is closed unanswered.
    const bool shed = connections.load() >= options.max_connections;
    if (shed && shedding.load() >= std::max(16, options.max_connections / 8)) {
      beast::error_code ignored;
      socket.close(ignored);
    } else if (ssl != nullptr) {
      std::make_shared<BasicHttpSession<beast::ssl_stream<beast::tcp_stream>>>(
          std::move(socket), this, shed, *ssl)
          ->Start();
    } else {
      std::make_shared<BasicHttpSession<beast::tcp_stream>>(std::move(socket), this, shed)
          ->Start();
    }
    Accept();
  });
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler* handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}

HttpServer::~HttpServer() { Stop(); }

absl::Status HttpServer::Start() {
  beast::error_code ec;
  auto address = net::ip::make_address(impl_->options.listen_host, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("bad listen address: ", ec.message()));
  tcp::endpoint endpoint(address, static_cast<unsigned short>(impl_->options.port));
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", impl_->options.listen_host, ":",
                                               impl_->options.port, ": ", ec.message()));
  }
  port_ = impl_->acceptor.local_endpoint().port();
  if (!impl_->options.tls_cert_chain_pem.empty()) {
    // TLS 1.2 and later only.
    auto ssl = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    ssl->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                     net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ssl->native_handle(), TLS1_2_VERSION);
    ssl->use_certificate_chain(net::buffer(impl_->options.tls_cert_chain_pem), ec);
    if (!ec) {
      ssl->use_private_key(net::buffer(impl_->options.tls_private_key_pem),
                           net::ssl::context::pem, ec);
    }
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot use the TLS certificate and key: ", ec.message()));
    }
    impl_->ssl = std::move(ssl);
  }
  impl_->accepting = true;
  impl_->Accept();
  for (int i = 0; i < std::max(1, impl_->options.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  }
  return absl::OkStatus();
}

int HttpServer::open_connections() const { return impl_->connections.load(); }

void HttpServer::StopAccepting() {
  if (!impl_->accepting.exchange(false)) return;
  net::post(impl_->ioc, [impl = impl_.get()] {
    beast::error_code ec;
    impl->acceptor.close(ec);
  });
}

void HttpServer::Stop() {
  StopAccepting();
  if (!impl_->threads.empty()) {
    // Close every connection on its own strand (after the response or event being written),
    // then give the I/O threads a moment to send the FINs before they stop.
    std::vector<std::shared_ptr<HttpSession>> live;
    {
      std::lock_guard<std::mutex> lock(impl_->sessions_mu);
      for (auto& weak : impl_->sessions) {
        if (auto session = weak.lock()) live.push_back(std::move(session));
      }
    }
    // Outside the lock: dropping the last reference runs the destructor, which takes it.
    for (auto& session : live) session->Post([session] { session->GracefulClose(); });
    live.clear();
    absl::Time deadline = absl::Now() + absl::Seconds(2);
    while (impl_->connections.load() > 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  impl_->ioc.stop();
  for (std::thread& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

}  // namespace clerkship::gateway
