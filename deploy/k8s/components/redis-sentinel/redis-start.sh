#!/bin/sh
# Starts this pod's Redis as the master or as a replica of the current master.
#
# Who is master is the Sentinels' knowledge, so ask them first (any pod's Sentinel).
# When none answers (the whole set is starting), use what this pod's own Sentinel last
# wrote to its configuration on the shared volume; only on the very first start, with no
# such record, does pod 0 become the master. Runs in the official redis image (POSIX sh,
# redis-cli); pod names are <statefulset>-<ordinal>, reachable as <pod>.redis-headless.
set -eu

: "${REDIS_PASSWORD:?REDIS_PASSWORD must be set (from the clerkship-redis Secret)}"
master_name=${REDIS_MASTER_NAME:-clerkship}
set_size=${REDIS_SET_SIZE:-3}
service=${REDIS_HEADLESS_SERVICE:-redis-headless}
pod=${POD_NAME:?POD_NAME must be set (downward API: metadata.name)}
set_name=${pod%-*}
me="$pod.$service"
data_dir=${REDIS_DATA_DIR:-/data}
config=${REDIS_CONFIG_FILE:-/etc/redis/redis.conf}
sentinel_conf="$data_dir/sentinel/sentinel.conf"

ask_sentinels() {
  i=0
  while [ "$i" -lt "$set_size" ]; do
    # Sentinels have no password (the services query them without AUTH); the
    # NetworkPolicy keeps them private.
    answer=$(env -u REDISCLI_AUTH redis-cli -h "$set_name-$i.$service" -p 26379 --raw \
      SENTINEL get-master-addr-by-name "$master_name" 2>/dev/null | head -n 1) || answer=""
    case "$answer" in
      "" | *ERR* | *rror*) ;;
      *) echo "$answer"; return 0 ;;
    esac
    i=$((i + 1))
  done
  return 1
}

master=""
tries=0
# The other pods' Sentinels may still be starting: give them a few seconds.
while [ -z "$master" ] && [ "$tries" -lt 5 ]; do
  master=$(ask_sentinels) || master=""
  [ -n "$master" ] || sleep 2
  tries=$((tries + 1))
done
if [ -z "$master" ] && [ -f "$sentinel_conf" ]; then
  master=$(awk -v n="$master_name" '$1 == "sentinel" && $2 == "monitor" && $3 == n { print $4 }' \
    "$sentinel_conf")
fi
if [ -z "$master" ]; then
  master="$set_name-0.$service"
fi

# A writable copy of the configuration: Sentinel's failover rewrites it (CONFIG REWRITE).
cp "$config" "$data_dir/redis.conf"
# Arguments given to this script (the container's args) are passed on to redis-server.
set -- "$data_dir/redis.conf" --dir "$data_dir" --requirepass "$REDIS_PASSWORD" \
  --masterauth "$REDIS_PASSWORD" --replica-announce-ip "$me" "$@"
if [ "$master" = "$me" ]; then
  echo "redis-start: $me starts as the master of $master_name"
else
  echo "redis-start: $me starts as a replica of $master"
  set -- "$@" --replicaof "$master" 6379
fi
exec redis-server "$@"
