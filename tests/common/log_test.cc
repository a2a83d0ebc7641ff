// The JSON-lines logger: lines are written off the caller's thread, nothing is lost when
// stdout keeps up, error lines are never dropped, and when the buffer overflows the
// dropped info lines are counted and reported.

#include "common/logging/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace clerkship::log {
namespace {

// Sends stdout to a file for the lifetime of the object; Lines() flushes the logger first.
class CapturedStdout {
 public:
  CapturedStdout() {
    char path[] = "/tmp/clerkship_log_test_XXXXXX";
    int fd = mkstemp(path);
    path_ = path;
    std::fflush(stdout);
    saved_ = dup(1);
    dup2(fd, 1);
    close(fd);
  }
  ~CapturedStdout() {
    std::fflush(stdout);
    dup2(saved_, 1);
    close(saved_);
    unlink(path_.c_str());
  }
  std::vector<std::string> Lines() {
    Flush();
    std::ifstream in(path_);
    std::stringstream all;
    all << in.rdbuf();
    return absl::StrSplit(all.str(), '\n', absl::SkipEmpty());
  }

 private:
  std::string path_;
  int saved_ = -1;
};

TEST(LogTest, EveryLineFromManyThreadsArrivesWhole) {
  CapturedStdout out;
  constexpr int kThreads = 4, kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) {
        Info("line", {{"thread", absl::StrCat(t)}, {"i", absl::StrCat(i)}});
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<std::string> lines = out.Lines();
  int ours = 0;
  for (const std::string& line : lines) {
    if (!absl::StrContains(line, "\"message\":\"line\"")) continue;
    ++ours;
    EXPECT_TRUE(absl::StartsWith(line, "{\"timestamp\":\"")) << line;
    EXPECT_TRUE(absl::EndsWith(line, "}")) << line;
    EXPECT_TRUE(absl::StrContains(line, "\"severity\":\"INFO\"")) << line;
  }
  EXPECT_EQ(ours, kThreads * kPerThread);
}

TEST(LogTest, OverflowDropsInfoLinesButNeverErrors) {
  CapturedStdout out;
  Flush();
  uint64_t dropped_before = DroppedLines();
  // A buffer too small for the burst: stdout is not the limit here, the buffer is.
  SetBufferLimit(4096);
  for (int i = 0; i < 2000; ++i) {
    Info("burst", {{"i", absl::StrCat(i)}});
    if (i % 100 == 0) Error("failure in burst", {{"i", absl::StrCat(i)}});
  }
  SetBufferLimit(8 << 20);
  std::vector<std::string> lines = out.Lines();
  int errors = 0, infos = 0;
  bool reported = false;
  for (const std::string& line : lines) {
    if (absl::StrContains(line, "\"message\":\"failure in burst\"")) ++errors;
    if (absl::StrContains(line, "\"message\":\"burst\"")) ++infos;
    if (absl::StrContains(line, "log lines dropped")) reported = true;
  }
  EXPECT_EQ(errors, 20);
  uint64_t dropped = DroppedLines() - dropped_before;
  EXPECT_EQ(static_cast<uint64_t>(infos) + dropped, 2000u);
  if (dropped > 0) EXPECT_TRUE(reported);
}

TEST(LogTest, TimestampsAreUtcWithMicroseconds) {
  CapturedStdout out;
  Warning("stamp");
  std::vector<std::string> lines = out.Lines();
  ASSERT_FALSE(lines.empty());
  const std::string& line = lines.back();
  // {"timestamp":"2026-01-31T12:34:56.123456Z",...
  ASSERT_GT(line.size(), 42u);
  std::string ts = line.substr(14, 27);
  EXPECT_EQ(ts[4], '-');
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts[26], 'Z') << ts;
}

}  // namespace
}  // namespace clerkship::log
