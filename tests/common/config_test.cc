#include "common/config/config.h"

#include <gtest/gtest.h>

#include <map>

#include "common/server/server_runner.h"

namespace clerkship {
namespace {

Config::EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

Config ServiceConfig() {
  Config c("clerkship-test", "test service");
  AddServerFlags(&c, 50051, 9101);
  AddRedisFlags(&c);
  c.AddDuration("offer_ttl", absl::Hours(72), "offer lifetime", absl::Minutes(1));
  return c;
}

TEST(Config, DefaultsWhenNothingIsSet) {
  Config c = ServiceConfig();
  const char* argv[] = {"prog"};
  ASSERT_TRUE(c.Parse(1, argv, Env({})).ok());
  EXPECT_EQ(c.GetInt("port"), 50051);
  EXPECT_EQ(c.GetString("redis_addr"), "127.0.0.1:6379");
  EXPECT_EQ(c.GetDuration("offer_ttl"), absl::Hours(72));
}

TEST(Config, EnvironmentAndFlagsWithFlagsWinning) {
  Config c = ServiceConfig();
  const char* argv[] = {"prog", "--port=6000", "--redis_timeout", "250ms"};
  ASSERT_TRUE(c.Parse(4, argv,
                      Env({{"CLERKSHIP_PORT", "7000"},
                           {"CLERKSHIP_REDIS_ADDR", "redis:6380"},
                           {"CLERKSHIP_REDIS_SENTINELS", "s1:26379, s2:26379"}}))
                  .ok());
  EXPECT_EQ(c.GetInt("port"), 6000);
  EXPECT_EQ(c.GetString("redis_addr"), "redis:6380");
  EXPECT_EQ(c.GetDuration("redis_timeout"), absl::Milliseconds(250));
  redis::ClientOptions o = RedisOptionsFromConfig(c);
  EXPECT_EQ(o.sentinels, (std::vector<std::string>{"s1:26379", "s2:26379"}));
}

TEST(Config, EveryBadValueIsReportedWithItsSource) {
  Config c = ServiceConfig();
  const char* argv[] = {"prog", "--port=70000", "--bogus=1", "--log_level=loud"};
  absl::Status s = c.Parse(4, argv,
                           Env({{"CLERKSHIP_REDIS_ADDR", "no-port"},
                                {"CLERKSHIP_OFFER_TTL", "5s"},
                                {"CLERKSHIP_REDIS_CONNECTIONS", "many"}}));
  ASSERT_FALSE(s.ok());
  std::string m(s.message());
  EXPECT_NE(m.find("unknown flag --bogus"), std::string::npos) << m;
  EXPECT_NE(m.find("--port='70000': must be between 0 and 65535"), std::string::npos) << m;
  EXPECT_NE(m.find("CLERKSHIP_REDIS_ADDR='no-port'"), std::string::npos) << m;
  EXPECT_NE(m.find("CLERKSHIP_OFFER_TTL='5s': must be at least 1m"), std::string::npos) << m;
  EXPECT_NE(m.find("CLERKSHIP_REDIS_CONNECTIONS='many': must be an integer"), std::string::npos) << m;
  EXPECT_NE(m.find("--log_level='loud'"), std::string::npos) << m;
}

TEST(Config, BadSentinelListAndMissingValue) {
  Config c = ServiceConfig();
  const char* argv[] = {"prog", "--redis_sentinels=a:1,b", "--port"};
  absl::Status s = c.Parse(3, argv, Env({}));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'b' must be host:port"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("flag --port needs a value"), std::string::npos) << s.message();
}

TEST(Config, UsageListsFlagsAndEnvironmentNames) {
  Config c = ServiceConfig();
  std::string usage = c.Usage();
  EXPECT_NE(usage.find("--redis_addr / CLERKSHIP_REDIS_ADDR"), std::string::npos);
  EXPECT_NE(usage.find("--offer_ttl / CLERKSHIP_OFFER_TTL"), std::string::npos);
}

}  // namespace
}  // namespace clerkship
