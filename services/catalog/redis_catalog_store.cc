#include "services/catalog/redis_catalog_store.h"

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

namespace clerkship::catalog {
namespace {

constexpr char kDomain[] = "clerkship.catalog";

std::string SiteKey(const std::string& id) { return absl::StrCat("cat:site:", id); }

absl::Status ReplyStatus(const absl::StatusOr<redis::Reply>& reply) {
  return redis::ScriptStatus(reply, kDomain);
}

template <typename T>
absl::StatusOr<T> ParseProto(const redis::Reply& reply) {
  T message;
  if (reply.type != redis::Reply::Type::kString || !message.ParseFromString(reply.str)) {
    return absl::DataLossError("stored record is unreadable");
  }
  return message;
}

}  // namespace

void RedisCatalogStore::CreateSite(const v1::Site& site, const std::string& request_id,
                                   Done<v1::Site> done) {
  // KEYS: site key, index, idempotency key (or a dummy). ARGV: id, record, has request id.
  static const redis::Script kCreate(R"lua(
if ARGV[3] == '1' then
  local earlier = redis.call('GET', KEYS[3])
  if earlier then
    local record = redis.call('GET', 'cat:site:' .. earlier)
    if record then return record end
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('ALREADY_EXISTS SITE_EXISTS site sites/' .. ARGV[1] .. ' already exists')
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if ARGV[3] == '1' then redis.call('SET', KEYS[3], ARGV[1], 'EX', 86400) end
return ARGV[2]
)lua");
  std::string id = site.name().substr(sizeof("sites/") - 1);
  redis_->Eval(kCreate,
               {SiteKey(id), "cat:sites",
                request_id.empty() ? "cat:idem:site:-" : "cat:idem:site:" + request_id},
               {id, site.SerializeAsString(), request_id.empty() ? "0" : "1"},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 done(ParseProto<v1::Site>(*reply));
               });
}

void RedisCatalogStore::GetSite(const std::string& site_id, Done<v1::Site> done) {
  redis_->Command({"GET", SiteKey(site_id)},
                  [site_id, done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                    absl::Status s = ReplyStatus(reply);
                    if (!s.ok()) return done(s);
                    if (reply->is_nil()) {
                      return done(absl::NotFoundError(absl::StrCat("site sites/", site_id, " not found")));
                    }
                    done(ParseProto<v1::Site>(*reply));
                  });
}

void RedisCatalogStore::ListSites(const std::string& after_id, int limit,
                                  Done<std::vector<v1::Site>> done) {
  // One round trip: the page of ids and their records.
  static const redis::Script kList(R"lua(
local ids = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i, id in ipairs(ids) do
  local record = redis.call('GET', 'cat:site:' .. id)
  if record then out[#out + 1] = record end
end
return out
)lua");
  std::string start = after_id.empty() ? "-" : "(" + after_id;
  redis_->Eval(kList, {"cat:sites"}, {start, absl::StrCat(limit)},
               [done = std::move(done)](absl::StatusOr<redis::Reply> reply) {
                 absl::Status s = ReplyStatus(reply);
                 if (!s.ok()) return done(s);
                 std::vector<v1::Site> sites;
                 for (const redis::Reply& r : reply->elements) {
                   auto site = ParseProto<v1::Site>(r);
                   if (!site.ok()) return done(site.status());
                   sites.push_back(std::move(*site));
                 }
                 done(std::move(sites));
               });
}

}  // namespace clerkship::catalog
