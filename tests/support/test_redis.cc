#include "tests/support/test_redis.h"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

namespace clerkship::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::unique_ptr<TestRedis> TestRedis::Start(std::vector<std::string> extra_args) {
  std::unique_ptr<TestRedis> r(new TestRedis);
  char tmpl[] = "/tmp/clerkship-redis-XXXXXX";
  r->dir_ = mkdtemp(tmpl);
  r->extra_args_ = std::move(extra_args);
  for (int attempt = 0; attempt < 5; ++attempt) {
    r->port_ = FreePort();
    if (r->Launch()) return r;
  }
  return nullptr;
}

TestRedis::~TestRedis() {
  Kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TestRedis::address() const { return "127.0.0.1:" + std::to_string(port_); }

bool TestRedis::Launch() {
  std::vector<std::string> args = {"redis-server",  "--port", std::to_string(port_),
                                   "--bind",        "127.0.0.1", "--dir", dir_,
                                   "--save",        "",          "--daemonize", "no",
                                   "--logfile",     dir_ + "/redis.log",
                                   "--enable-debug-command", "yes"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = fork();
  if (pid_ == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp("redis-server", argv.data());
    _exit(127);
  }
  // Wait until it answers PING.
  for (int i = 0; i < 500; ++i) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    timeval tv = {0, 200000};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c != nullptr && c->err == 0) {
      auto* reply = static_cast<redisReply*>(redisCommand(c, "PING"));
      bool ok = reply != nullptr && reply->type == REDIS_REPLY_STATUS;
      if (reply) freeReplyObject(reply);
      redisFree(c);
      if (ok) return true;
    } else if (c != nullptr) {
      redisFree(c);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  return false;
}

void TestRedis::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool TestRedis::Restart() {
  Kill();
  return Launch();
}

std::string TestRedis::Command(const std::vector<std::string>& args) const {
  timeval tv = {5, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (c == nullptr || c->err) {
    if (c) redisFree(c);
    return "ERR connect";
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()));
  std::string out;
  if (reply == nullptr) {
    out = "ERR io";
  } else if (reply->type == REDIS_REPLY_INTEGER) {
    out = std::to_string(reply->integer);
  } else if (reply->str != nullptr) {
    out.assign(reply->str, reply->len);
  }
  if (reply) freeReplyObject(reply);
  redisFree(c);
  return out;
}

}  // namespace clerkship::testing
