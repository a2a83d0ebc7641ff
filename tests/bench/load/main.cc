// clerkship-load: the platform's load tool (DESIGN.md §7).
//
//   clerkship-load echo-server [--port N] [--runner]   the baseline server
//   clerkship-load seed [data flags] [address flags]    create the benchmark data set
//   clerkship-load run [flags]                          measure scenarios, print ratios
//   clerkship-load grpc-body --method M --out FILE      a framed request body for h2load
//
// Run `clerkship-load <command> --help` for the flags of each command. tests/bench/README.md
// explains how to read the figures; tests/bench/run runs the whole standard benchmark.

#include <unistd.h>

#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "clerkship/catalog/v1/catalog.pb.h"
#include "common/config/config.h"
#include "echo.pb.h"
#include "tests/bench/load/echo_server.h"
#include "tests/bench/load/load_driver.h"
#include "tests/bench/load/report.h"
#include "tests/bench/load/scenarios.h"
#include "tests/bench/load/seed.h"

namespace clerkship::bench {
namespace {

constexpr char kUsage[] =
    "usage: clerkship-load <command> [flags]\n"
    "  echo-server   serve the bare echo baseline (--port, --runner)\n"
    "  seed          create the benchmark data set through the services' gRPC APIs\n"
    "  run           measure scenarios; every figure is also given as a ratio to its baseline\n"
    "  grpc-body     write a gRPC-framed request body for h2load (--method, --out)\n"
    "`clerkship-load <command> --help` lists a command's flags.\n";

constexpr char kStandardScenarios[] =
    "echo,echo_runner,echo_sized,get_rotation,search_rotations,recommend_rotations,"
    "list_notifications,http_get_rotation,hold_release,submit_application,offer_accept,journey";

// Env lookup for the load tool's own flags: only the service addresses are taken from the
// environment (CLERKSHIP_CATALOG_ADDR ... as the services use them); generic names such as
// --port or --duration must not be picked up from a service's environment by accident.
std::optional<std::string> AddressesFromEnv(const std::string& name) {
  static const char* kTaken[] = {"CLERKSHIP_CATALOG_ADDR", "CLERKSHIP_APPLICANT_ADDR",
                                 "CLERKSHIP_MATCHING_ADDR", "CLERKSHIP_NOTIFICATION_ADDR"};
  for (const char* t : kTaken) {
    if (name == t) {
      const char* v = std::getenv(t);
      if (v != nullptr) return std::string(v);
    }
  }
  return std::nullopt;
}

void ParseOrExit(Config* config, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::cout << config->Usage();
      std::exit(0);
    }
  }
  absl::Status s = config->Parse(argc, argv, AddressesFromEnv);
  if (!s.ok()) {
    std::cerr << s.message() << "\n";
    std::exit(2);
  }
}

void AddDataFlags(Config* c) {
  c->AddString("prefix", "bench", "id prefix of the seeded data (lowercase letters, digits, -)",
               [](const std::string& v) -> std::string {
                 if (v.empty() || v.size() > 20) return "must be 1-20 characters";
                 for (char ch : v) {
                   if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) {
                     return "must be lowercase letters, digits and hyphens";
                   }
                 }
                 return "";
               });
  c->AddInt("rotations", 10000, "rotations in the data set", 10, 99999);
  c->AddInt("sessions_per_rotation", 2, "sessions per rotation", 1, 9);
  c->AddInt("session_capacity", 200, "seats per session", 1, 1000);
  c->AddInt("applicants", 50000, "applicants in the data set", 1, 999999);
  c->AddInt("notified_applicants", 1000, "applicants whose inbox is seeded", 0, 999999);
  c->AddInt("notifications_each", 10, "notifications seeded per inbox", 0, 500);
}

void AddAddressFlags(Config* c) {
  c->AddString("catalog_addr", "", "catalog service host:port (empty: not running)");
  c->AddString("applicant_addr", "", "applicant service host:port (empty: not running)");
  c->AddString("matching_addr", "", "matching service host:port (empty: not running)");
  c->AddString("notification_addr", "", "notification service host:port (empty: not running)");
  c->AddInt("channels", 2, "gRPC channels (HTTP/2 connections) per service", 1, 256);
  c->AddInt("cq_threads", 2, "client completion-queue threads", 1, 64);
  c->AddDuration("deadline", absl::Seconds(10), "deadline of every call", absl::Milliseconds(1));
}

DataSpec DataFromConfig(const Config& c) {
  DataSpec d;
  d.prefix = c.GetString("prefix");
  d.rotations = static_cast<int>(c.GetInt("rotations"));
  d.sessions_per_rotation = static_cast<int>(c.GetInt("sessions_per_rotation"));
  d.session_capacity = static_cast<int>(c.GetInt("session_capacity"));
  d.applicants = static_cast<int>(c.GetInt("applicants"));
  d.notified_applicants = static_cast<int>(c.GetInt("notified_applicants"));
  d.notifications_each = static_cast<int>(c.GetInt("notifications_each"));
  d.today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  return d;
}

ClientOptions ClientFromConfig(const Config& c) {
  ClientOptions o;
  o.channels = static_cast<int>(c.GetInt("channels"));
  o.cq_threads = static_cast<int>(c.GetInt("cq_threads"));
  o.deadline = c.GetDuration("deadline");
  return o;
}

std::unique_ptr<Target> MaybeTarget(const Config& c, const std::string& flag, int channels) {
  std::string addr = c.GetString(flag);
  if (addr.empty()) return nullptr;
  return std::make_unique<Target>(addr, channels);
}

void FillEndpoints(const Config& c, int channels, Endpoints* e) {
  e->catalog = MaybeTarget(c, "catalog_addr", channels);
  e->applicant = MaybeTarget(c, "applicant_addr", channels);
  e->matching = MaybeTarget(c, "matching_addr", channels);
  e->notification = MaybeTarget(c, "notification_addr", channels);
}

std::string CommandLine(int argc, char** argv) {
  std::vector<std::string> parts;
  for (int i = 0; i < argc; ++i) parts.push_back(argv[i]);
  return absl::StrJoin(parts, " ");
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string line;
  std::getline(in, line);
  return line;
}

// ---------------------------------------------------------------------------------------

int SeedMain(int argc, char** argv) {
  Config c("clerkship-load seed", "create the benchmark data set through the services' APIs");
  AddDataFlags(&c);
  AddAddressFlags(&c);
  c.AddInt("in_flight", 64, "seeding calls in flight", 1, 4096);
  ParseOrExit(&c, argc, argv);
  RpcClient client(ClientFromConfig(c));
  ScenarioEnv env;
  env.client = &client;
  env.data = DataFromConfig(c);
  FillEndpoints(c, client.options().channels, &env.endpoints);
  SeedOptions options;
  options.in_flight = static_cast<int>(c.GetInt("in_flight"));
  SeedCounts counts;
  absl::Status s = Seed(&env, options, &counts);
  std::cout << "seeded in " << absl::StrFormat("%.1f", counts.seconds) << " s: " << counts.sites
            << " sites, " << counts.rotations << " rotations, " << counts.sessions
            << " sessions, " << counts.published << " published, " << counts.applicants
            << " applicants, " << counts.documents << " documents, " << counts.notifications
            << " notifications" << std::endl;
  if (!s.ok()) {
    std::cerr << "seed: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------

bool ParseList(const std::string& text, std::vector<double>* out) {
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    double v = 0;
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(item), &v) || v <= 0) return false;
    out->push_back(v);
  }
  return true;
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

int RunMain(int argc, char** argv) {
  Config c("clerkship-load run", "measure scenarios against a running platform");
  AddDataFlags(&c);
  AddAddressFlags(&c);
  c.AddString("scenarios", kStandardScenarios, "comma-separated scenarios, measured in order");
  c.AddString("mode", "closed",
              "closed (each --concurrency), open (each --rates) or both (closed, then open "
              "for --open_scenarios)",
              [](const std::string& v) { return CheckOneOf(v, {"closed", "open", "both"}); });
  c.AddString("concurrency", "1,16,64", "closed loop: requests in flight, one pass each");
  c.AddString("rates", "1000", "open loop: operations per second, one pass each");
  c.AddString("open_scenarios", "echo,get_rotation", "scenarios of the open-loop pass (mode both)");
  c.AddInt("max_in_flight", 20000, "open loop: operations in flight beyond which none are sent",
           1, 1000000);
  c.AddDuration("warmup", absl::Seconds(2), "warm-up before each measurement (not counted)");
  c.AddDuration("duration", absl::Seconds(10), "measured time of each scenario",
                absl::Milliseconds(100));
  c.AddString("echo_addr", "", "bare echo server host:port (clerkship-load echo-server)");
  c.AddString("echo_runner_addr", "", "ServerRunner echo server host:port (--runner)");
  c.AddInt("echo_response_bytes", 0, "filler bytes in every echo response", 0, 1000000);
  c.AddInt("echo_sized_bytes", 440,
           "filler bytes in echo_sized's responses (440: a GetRotation answer in the data set)",
           0, 1000000);
  c.AddInt("search_shape", -1,
           "search_rotations: only this filter shape (0-5, see data_model.cc); -1 = all in turn",
           -1, kSearchShapes - 1);
  c.AddString("gateway_addr", "", "HTTP gateway host:port (empty: not running)");
  c.AddString("token", "", "bearer token for the gateway (clerkship-admin token ...)");
  c.AddString("token_file", "", "file holding the bearer token (instead of --token)");
  c.AddString("watch", "",
              "processes to report CPU and memory of, name=pid,... (e.g. catalog=1234)");
  c.AddDuration("memory_sample_interval", absl::Seconds(5),
                "how often memory is sampled while measuring", absl::Milliseconds(100));
  c.AddInt("quiet_millicores", 150,
           "after a writing scenario, wait until the watched processes use less than this "
           "much CPU (1000 = one core) so that event consumers have caught up",
           0, 100000);
  c.AddDuration("quiet_max_wait", absl::Seconds(60), "longest such wait");
  c.AddDuration("initial_quiet_max_wait", absl::Seconds(300),
                "longest wait, before the first measurement, for the services to finish "
                "consuming the events of seeding");
  c.AddString("json_out", "", "write the results as JSON to this file");
  c.AddString("markdown_out", "", "write the results as Markdown to this file");
  c.AddBool("paired_baseline", true,
            "measure each scenario's baseline again just before it, at the same load, and "
            "divide by that: on a shared machine the ratio then compares like with like");
  c.AddBool("require_clean", false,
            "exit with status 3 unless every scenario that ran completed operations without "
            "a single error (smoke tests)");
  ParseOrExit(&c, argc, argv);

  std::vector<double> concurrency, rates;
  if (!ParseList(c.GetString("concurrency"), &concurrency) ||
      !ParseList(c.GetString("rates"), &rates)) {
    std::cerr << "--concurrency and --rates take comma-separated positive numbers\n";
    return 2;
  }
  std::map<std::string, int> pids;
  if (!ParseNamedPids(c.GetString("watch"), &pids)) {
    std::cerr << "--watch takes name=pid,name=pid\n";
    return 2;
  }

  RpcClient client(ClientFromConfig(c));
  ScenarioEnv env;
  env.client = &client;
  env.data = DataFromConfig(c);
  int channels = client.options().channels;
  FillEndpoints(c, channels, &env.endpoints);
  if (!c.GetString("echo_addr").empty()) {
    env.endpoints.echo = std::make_unique<Target>(c.GetString("echo_addr"), channels);
  }
  if (!c.GetString("echo_runner_addr").empty()) {
    env.endpoints.echo_runner = std::make_unique<Target>(c.GetString("echo_runner_addr"), channels);
  }
  env.endpoints.gateway = c.GetString("gateway_addr");
  env.endpoints.token = c.GetString("token");
  if (!c.GetString("token_file").empty()) {
    std::ifstream in(c.GetString("token_file"));
    std::getline(in, env.endpoints.token);
    env.endpoints.token = std::string(absl::StripAsciiWhitespace(env.endpoints.token));
  }
  env.echo_response_bytes = static_cast<int>(c.GetInt("echo_response_bytes"));
  env.echo_sized_bytes = static_cast<int>(c.GetInt("echo_sized_bytes"));
  env.search_shape = static_cast<int>(c.GetInt("search_shape"));
  // Where this run's applications start in the (applicant, session) sequence, so that a
  // second run against the same data applies to other sessions.
  env.application_offset = std::random_device{}() % 100000;

  std::vector<std::unique_ptr<Scenario>> scenarios;
  for (absl::string_view name : absl::StrSplit(c.GetString("scenarios"), ',', absl::SkipEmpty())) {
    std::string error;
    auto s = MakeScenario(std::string(absl::StripAsciiWhitespace(name)), &env, &error);
    if (s == nullptr) {
      std::cerr << error << " (known: " << absl::StrJoin(AllScenarioNames(), ", ") << ")\n";
      return 2;
    }
    scenarios.push_back(std::move(s));
  }
  std::set<std::string> open_names;
  for (absl::string_view n : absl::StrSplit(c.GetString("open_scenarios"), ',', absl::SkipEmpty())) {
    open_names.insert(std::string(absl::StripAsciiWhitespace(n)));
  }

  ProcWatcher watcher(pids);
  Driver driver(&client, &watcher);
  Report report;
  report.command = CommandLine(argc, argv);
  report.started = absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::Now(), absl::UTCTimeZone());
  report.load_average_before = LoadAverage();
  report.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  report.first = watcher.Take();
  watcher.RecordMemory(report.first);

  // Each scenario is checked once; a scenario that cannot run is reported as skipped at
  // every load level, with the reason.
  std::map<std::string, std::string> skip;
  for (auto& s : scenarios) {
    absl::Status st = s->Check();
    if (st.ok()) st = driver.Probe(s.get());
    if (!st.ok()) {
      skip[s->name()] = std::string(st.message());
      std::cout << "skipping " << s->name() << ": " << st.message() << std::endl;
    }
  }

  double quiet_cores = static_cast<double>(c.GetInt("quiet_millicores")) / 1000.0;
  absl::Duration quiet_max = c.GetDuration("quiet_max_wait");
  if (!pids.empty()) {
    // Seeding leaves event consumers (matching's catalog cache, notifications) busy for a
    // while; measuring before they finish would charge their work to the first scenario.
    absl::Duration waited =
        driver.WaitQuiet(quiet_cores, c.GetDuration("initial_quiet_max_wait"));
    std::cout << "waited " << absl::FormatDuration(absl::Trunc(waited, absl::Milliseconds(100)))
              << " for the services to go quiet" << std::endl;
  }

  RunSpec base;
  base.warmup = c.GetDuration("warmup");
  base.duration = c.GetDuration("duration");
  base.max_in_flight = static_cast<int>(c.GetInt("max_in_flight"));
  base.memory_sample_interval = c.GetDuration("memory_sample_interval");

  // Baselines for pairing: the scenario objects of the list, or made for the purpose.
  std::map<std::string, Scenario*> by_name;
  for (auto& s : scenarios) by_name[s->name()] = s.get();
  std::vector<std::unique_ptr<Scenario>> extra;
  auto baseline_of = [&](Scenario* s) -> Scenario* {
    std::string name = s->baseline();
    if (name == s->name()) return nullptr;
    if (auto it = by_name.find(name); it != by_name.end()) return it->second;
    std::string error;
    auto made = MakeScenario(name, &env, &error);
    if (made == nullptr) return nullptr;
    absl::Status st = made->Check();
    if (st.ok()) st = driver.Probe(made.get());
    if (!st.ok()) skip[name] = std::string(st.message());
    by_name[name] = made.get();
    extra.push_back(std::move(made));
    return by_name[name];
  };
  bool paired = c.GetBool("paired_baseline");

  auto measure = [&](Scenario* s, const RunSpec& spec, bool* wrote) {
    if (paired && skip.count(s->name()) == 0) {
      Scenario* b = baseline_of(s);
      // The first scenario at a load is usually the baseline itself: no need to repeat it.
      const RunResult* last = report.runs.empty() ? nullptr : &report.runs.back();
      bool just_measured = b != nullptr && last != nullptr && last->scenario == b->name() &&
                           last->spec.mode == spec.mode &&
                           last->spec.concurrency == spec.concurrency &&
                           last->spec.rate == spec.rate;
      if (b != nullptr && skip.count(b->name()) == 0 && !just_measured) {
        if (*wrote && !pids.empty()) driver.WaitQuiet(quiet_cores, quiet_max);
        RunResult br = driver.Run(b, spec);
        br.paired = true;
        *wrote = b->Writes();
        report.runs.push_back(br);
        std::cout << FormatRunLine(report.runs.back(),
                                   FindBaseline(report.runs, report.runs.back()))
                  << std::endl;
      }
    }
    RunResult r;
    if (auto it = skip.find(s->name()); it != skip.end()) {
      r.scenario = s->name();
      r.baseline = s->baseline();
      r.spec = spec;
      r.skipped = it->second;
    } else {
      if (*wrote && !pids.empty()) driver.WaitQuiet(quiet_cores, quiet_max);
      r = driver.Run(s, spec);
      *wrote = s->Writes();
    }
    report.runs.push_back(r);
    std::cout << FormatRunLine(report.runs.back(), FindBaseline(report.runs, report.runs.back()))
              << std::endl;
  };

  std::string mode = c.GetString("mode");
  bool wrote = false;
  if (mode == "closed" || mode == "both") {
    for (double n : concurrency) {
      RunSpec spec = base;
      spec.mode = RunSpec::Mode::kClosed;
      spec.concurrency = static_cast<int>(n);
      for (auto& s : scenarios) measure(s.get(), spec, &wrote);
    }
  }
  if (mode == "open" || mode == "both") {
    for (double rate : rates) {
      RunSpec spec = base;
      spec.mode = RunSpec::Mode::kOpen;
      spec.rate = rate;
      for (auto& s : scenarios) {
        if (mode == "both" && open_names.count(s->name()) == 0) continue;
        if (!s->SupportsOpenLoop()) continue;
        measure(s.get(), spec, &wrote);
      }
    }
  }

  report.last = watcher.Take();
  watcher.RecordMemory(report.last);
  report.memory = watcher.memory();
  report.load_average_after = LoadAverage();
  std::cout << "\n" << FormatTable(report);
  int status = 0;
  if (!c.GetString("json_out").empty() && !WriteFile(c.GetString("json_out"), FormatJson(report))) {
    std::cerr << "cannot write " << c.GetString("json_out") << "\n";
    status = 1;
  }
  if (!c.GetString("markdown_out").empty() &&
      !WriteFile(c.GetString("markdown_out"), FormatMarkdown(report))) {
    std::cerr << "cannot write " << c.GetString("markdown_out") << "\n";
    status = 1;
  }
  if (c.GetBool("require_clean")) {
    for (const RunResult& r : report.runs) {
      if (!r.skipped.empty()) continue;
      uint64_t errors = r.ops_failed + r.ops_not_sent;
      for (const MethodResult& m : r.methods) {
        for (const auto& [code, n] : m.errors) errors += n;
      }
      if (r.ops_ok == 0 || errors > 0 || r.undrained) {
        std::cerr << "not clean: " << r.scenario << " completed " << r.ops_ok
                  << " operations with " << errors << " errors" << std::endl;
        status = 3;
      }
    }
  }
  return status;
}

// ---------------------------------------------------------------------------------------

// gRPC's length-prefixed message framing: 1 byte "not compressed", 4 bytes big-endian length.
std::string Framed(const google::protobuf::Message& m) {
  std::string body = m.SerializeAsString();
  std::string out(5, '\0');
  uint32_t n = static_cast<uint32_t>(body.size());
  out[1] = static_cast<char>(n >> 24);
  out[2] = static_cast<char>(n >> 16);
  out[3] = static_cast<char>(n >> 8);
  out[4] = static_cast<char>(n);
  return out + body;
}

int GrpcBodyMain(int argc, char** argv) {
  Config c("clerkship-load grpc-body",
           "write one gRPC-framed request (0x00, 4-byte big-endian length, message) for h2load");
  AddDataFlags(&c);
  c.AddString("method", "get_rotation", "get_rotation or echo",
              [](const std::string& v) { return CheckOneOf(v, {"get_rotation", "echo"}); });
  c.AddInt("rotation", 1, "index of the seeded rotation to get", 0, 99999);
  c.AddString("out", "", "output file", CheckNonEmpty);
  ParseOrExit(&c, argc, argv);
  DataSpec d = DataFromConfig(c);
  std::string body, path;
  if (c.GetString("method") == "echo") {
    v1::EchoRequest r;
    r.set_payload("clerkship-bench-echo-payload");
    body = Framed(r);
    path = "/clerkship.bench.v1.EchoService/Echo";
  } else {
    catalog::v1::GetRotationRequest r;
    r.set_name(RotationName(d, static_cast<int>(c.GetInt("rotation"))));
    body = Framed(r);
    path = "/clerkship.catalog.v1.CatalogService/GetRotation";
  }
  if (!WriteFile(c.GetString("out"), body)) {
    std::cerr << "cannot write " << c.GetString("out") << "\n";
    return 1;
  }
  // The path on stdout, for scripts.
  std::cout << path << std::endl;
  return 0;
}

}  // namespace
}  // namespace clerkship::bench

int main(int argc, char** argv) {
  using namespace clerkship::bench;
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  // The subcommand's flags start after its name; argv[1] stands in for the program name.
  if (command == "echo-server") return EchoServerMain(argc - 1, argv + 1);
  if (command == "seed") return SeedMain(argc - 1, argv + 1);
  if (command == "run") return RunMain(argc - 1, argv + 1);
  if (command == "grpc-body") return GrpcBodyMain(argc - 1, argv + 1);
  std::cerr << "clerkship-load: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
