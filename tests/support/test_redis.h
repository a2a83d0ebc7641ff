#pragma once

// A real redis-server for tests, on a free loopback port, with its data in a temporary
// directory. It can be stopped (SIGKILL) and restarted on the same port to exercise
// reconnects and outages.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace clerkship::testing {

int FreePort();

class TestRedis {
 public:
  // extra_args: e.g. {"--appendonly", "yes", "--appendfsync", "always"}.
  static std::unique_ptr<TestRedis> Start(std::vector<std::string> extra_args = {});
  ~TestRedis();

  int port() const { return port_; }
  std::string address() const;
  const std::string& dir() const { return dir_; }
  bool running() const { return pid_ > 0; }

  void Kill();     // SIGKILL, like a crash
  bool Restart();  // same port and data directory

  // Runs a command with redis-cli semantics over a short-lived blocking connection.
  std::string Command(const std::vector<std::string>& args) const;

 private:
  TestRedis() = default;
  bool Launch();

  int port_ = 0;
  pid_t pid_ = -1;
  std::string dir_;
  std::vector<std::string> extra_args_;
};

}  // namespace clerkship::testing
