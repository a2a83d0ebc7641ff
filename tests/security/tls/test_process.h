#pragma once

// Helpers for the TLS and overload tests: a child process (a real service binary) whose
// output goes to a file and which is stopped when the test ends, and a throwaway PKI made
// with the openssl command-line tool.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

extern "C" char** environ;

namespace clerkship::testing {

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class ChildProcess {
 public:
  ChildProcess(const std::string& binary, const std::vector<std::string>& args,
               std::string log_path)
      : log_path_(std::move(log_path)) {
    std::vector<std::string> argv_storage = {binary};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    // posix_spawn, not fork: fork handlers of gRPC in this process would stall for seconds.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> argv;
    for (std::string& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      exit_code_ = 127;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ChildProcess() { Stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  std::string Log() const { return ReadWholeFile(log_path_); }

  // The exit status once the process ended by itself within `timeout`; -1 otherwise.
  int WaitForExit(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (exit_code_ < 0 && pid_ > 0) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
        break;
      }
      if (absl::Now() > deadline) return -1;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return exit_code_;
  }

  bool running() { return WaitForExit(absl::ZeroDuration()) < 0; }

  // SIGTERM, then SIGKILL if it has not stopped within a few seconds; the exit status
  // (0 after a clean shutdown; sanitizer reports make it non-zero).
  int Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      if (WaitForExit(absl::Seconds(10)) < 0) {
        kill(pid_, SIGKILL);
        WaitForExit(absl::Seconds(5));
      }
    }
    return exit_code_;
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// A CA, a second unrelated CA, a server/service certificate for 127.0.0.1 and localhost
// (usable as a client certificate too, as services calling services present it), a client
// certificate from the CA and one from the other CA. EC P-256 keys: quick to make.
class TestPki {
 public:
  // Returns false (and the reason in error()) if openssl failed.
  bool Generate() {
    char tmpl[] = "/tmp/clerkship-tls-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::ofstream(Path("leaf.ext")) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                       "extendedKeyUsage=serverAuth,clientAuth\n"
                                       "basicConstraints=CA:FALSE\n";
    std::ofstream(Path("client.ext")) << "extendedKeyUsage=clientAuth\n"
                                         "basicConstraints=CA:FALSE\n";
    return MakeCa("ca") && MakeCa("other-ca") && MakeLeaf("server", "ca", "localhost", "leaf.ext") &&
           MakeLeaf("client", "ca", "test-client", "client.ext") &&
           MakeLeaf("other-client", "other-ca", "intruder", "client.ext");
  }
  ~TestPki() {
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  const std::string& dir() const { return dir_; }
  const std::string& error() const { return error_; }
  std::string Path(const std::string& name) const { return absl::StrCat(dir_, "/", name); }
  std::string Pem(const std::string& name) const { return ReadWholeFile(Path(name)); }

 private:
  bool Run(const std::string& command) {
    std::string full = absl::StrCat("cd '", dir_, "' && ", command, " >>openssl.log 2>&1");
    if (std::system(full.c_str()) != 0) {
      error_ = absl::StrCat("failed: ", command, "\n", ReadWholeFile(Path("openssl.log")));
      return false;
    }
    return true;
  }
  bool MakeCa(const std::string& name) {
    return Run(absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ",
        name, ".key -out ", name, ".pem -days 2 -subj /CN=", name));
  }
  bool MakeLeaf(const std::string& name, const std::string& ca, const std::string& cn,
                const std::string& ext) {
    return Run(absl::StrCat(
               "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ",
               name, ".key -out ", name, ".csr -subj /CN=", cn)) &&
           Run(absl::StrCat("openssl x509 -req -in ", name, ".csr -CA ", ca, ".pem -CAkey ", ca,
                            ".key -CAcreateserial -out ", name, ".pem -days 2 -extfile ", ext));
  }

  std::string dir_;
  std::string error_;
};

}  // namespace clerkship::testing
