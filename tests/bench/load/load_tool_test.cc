// The load tool's own arithmetic: if these are wrong, every benchmark figure is wrong.

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/bench/load/data_model.h"
#include "tests/bench/load/histogram.h"
#include "tests/bench/load/http_load.h"
#include "tests/bench/load/load_driver.h"
#include "tests/bench/load/report.h"

namespace clerkship::bench {
namespace {

TEST(HistogramTest, PercentilesAreWithinOnePercentOfTheExactOnes) {
  Histogram h;
  std::vector<int64_t> values;
  std::mt19937_64 rng(7);
  // Latencies from 50 µs to 500 ms, log-uniform, like a mix of fast and slow calls.
  for (int i = 0; i < 100000; ++i) {
    double x = std::exp(std::log(50e3) + (std::log(500e6) - std::log(50e3)) *
                                             std::uniform_real_distribution<>(0, 1)(rng));
    values.push_back(static_cast<int64_t>(x));
    h.RecordNanos(values.back());
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    int64_t exact = values[static_cast<size_t>(std::ceil(q * values.size())) - 1];
    int64_t got = h.PercentileNanos(q);
    EXPECT_NEAR(static_cast<double>(got), static_cast<double>(exact), exact * 0.01) << q;
  }
  EXPECT_EQ(h.max_nanos(), values.back());
  EXPECT_EQ(h.count(), values.size());
}

TEST(HistogramTest, MergeAddsSamplesAndKeepsTheMaximum) {
  Histogram a, b;
  a.RecordNanos(1000);
  b.RecordNanos(5000000);
  b.RecordNanos(2000);
  a.Merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.max_nanos(), 5000000);
  EXPECT_NEAR(static_cast<double>(a.PercentileNanos(0.5)), 2000, 20);
}

TEST(HttpParseTest, ContentLengthResponseOnKeepAlive) {
  std::string r = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n"
                  "hello";
  int status = 0;
  bool keep_alive = false;
  EXPECT_EQ(ParseHttpResponse(r.data(), r.size() - 1, &status, &keep_alive), 0);
  EXPECT_EQ(ParseHttpResponse(r.data(), r.size(), &status, &keep_alive),
            static_cast<long>(r.size()));
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(keep_alive);
}

TEST(HttpParseTest, ChunkedResponseAndConnectionClose) {
  std::string r = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                  "4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\nHTTP/1.1";
  int status = 0;
  bool keep_alive = true;
  long used = ParseHttpResponse(r.data(), r.size(), &status, &keep_alive);
  EXPECT_EQ(used, static_cast<long>(r.size() - 8));  // the next response is not consumed
  EXPECT_EQ(status, 404);
  EXPECT_FALSE(keep_alive);
  EXPECT_EQ(ParseHttpResponse(r.data(), 60, &status, &keep_alive), 0);
}

TEST(HttpParseTest, GarbageIsAnError) {
  std::string r = "SSH-2.0-OpenSSH\r\n\r\n";
  int status = 0;
  bool keep_alive = true;
  EXPECT_EQ(ParseHttpResponse(r.data(), r.size(), &status, &keep_alive), -1);
}

TEST(DataModelTest, ApplicationsNeverRepeatAPairAndOnlyTargetEligibleRotations) {
  DataSpec d;
  d.rotations = 100;
  d.applicants = 37;
  d.sessions_per_rotation = 2;
  std::set<std::pair<int, std::string>> seen;
  uint64_t n_max = static_cast<uint64_t>(d.applicants) * d.eligible_rotations() *
                   d.sessions_per_rotation;
  for (uint64_t n = 0; n < n_max; ++n) {
    ApplicationTarget t = NthApplication(d, n, 12345);
    ASSERT_NE(t.rotation % 10, 0) << "rotation " << t.rotation << " admits students only";
    ASSERT_LT(t.rotation, d.rotations);
    ASSERT_TRUE(seen.insert({t.applicant, SessionName(d, t.rotation, t.session)}).second)
        << "pair repeated at n=" << n;
  }
}

TEST(DataModelTest, SeededRecordsPassTheServicesBasicRules) {
  DataSpec d;
  d.today = absl::CivilDay(2027, 3, 1);
  for (int i = 0; i < 200; ++i) {
    catalog::v1::Rotation r = MakeRotation(d, i);
    bool observing = r.experience_type() == type::v1::OBSERVERSHIP ||
                     r.experience_type() == type::v1::SHADOWING;
    if (observing) {
      EXPECT_FALSE(r.hands_on().patient_contact()) << i;
      EXPECT_FALSE(r.hands_on().note_writing()) << i;
    }
    catalog::v1::Session s = MakeSession(d, i, 1);
    EXPECT_LE(s.application_deadline(), s.start_date());
    EXPECT_GT(s.application_deadline(), absl::FormatCivilTime(d.today));
    EXPECT_LE(s.start_date(), s.end_date());
  }
  EXPECT_EQ(RotationName(d, 42), "rotations/bench-r-00042");
  EXPECT_EQ(SessionName(d, 42, 0), "rotations/bench-r-00042/sessions/s1");
}

TEST(ReportTest, RatioUsesThePairedBaselineMeasuredJustBefore) {
  std::vector<RunResult> runs(4);
  auto set = [](RunResult* r, const char* scenario, const char* baseline, double calls) {
    r->scenario = scenario;
    r->baseline = baseline;
    r->spec.concurrency = 16;
    r->calls_per_second = calls;
  };
  set(&runs[0], "echo", "echo", 20000);
  set(&runs[1], "get_rotation", "echo", 9000);
  set(&runs[2], "echo", "echo", 10000);  // the machine got busier: paired baseline
  runs[2].paired = true;
  set(&runs[3], "search_rotations", "echo", 5000);
  EXPECT_EQ(FindBaseline(runs, runs[1]), &runs[0]);
  EXPECT_EQ(FindBaseline(runs, runs[3]), &runs[2]);
  EXPECT_EQ(FindBaseline(runs, runs[0]), &runs[0]);
  runs[3].spec.concurrency = 64;  // nothing at 64
  EXPECT_EQ(FindBaseline(runs, runs[3]), nullptr);
}

}  // namespace
}  // namespace clerkship::bench
