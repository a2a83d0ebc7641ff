#!/bin/sh
# Starts this pod's Sentinel, monitoring the current master: as another Sentinel sees it,
# else as this Sentinel last recorded it (its configuration lives on the pod's volume),
# else pod 0 (first start of the set). Host names, not pod IPs, identify the instances,
# since pod IPs change on every restart.
set -eu

: "${REDIS_PASSWORD:?REDIS_PASSWORD must be set (from the clerkship-redis Secret)}"
master_name=${REDIS_MASTER_NAME:-clerkship}
set_size=${REDIS_SET_SIZE:-3}
quorum=${SENTINEL_QUORUM:-2}
service=${REDIS_HEADLESS_SERVICE:-redis-headless}
pod=${POD_NAME:?POD_NAME must be set (downward API: metadata.name)}
set_name=${pod%-*}
me="$pod.$service"
dir=${REDIS_DATA_DIR:-/data}/sentinel
conf="$dir/sentinel.conf"
mkdir -p "$dir"

master=""
i=0
while [ "$i" -lt "$set_size" ] && [ -z "$master" ]; do
  if [ "$set_name-$i" != "$pod" ]; then
    answer=$(redis-cli -h "$set_name-$i.$service" -p 26379 --raw \
      SENTINEL get-master-addr-by-name "$master_name" 2>/dev/null | head -n 1) || answer=""
    case "$answer" in
      "" | *ERR* | *rror*) ;;
      *) master=$answer ;;
    esac
  fi
  i=$((i + 1))
done
if [ -z "$master" ] && [ -f "$conf" ]; then
  master=$(awk -v n="$master_name" '$1 == "sentinel" && $2 == "monitor" && $3 == n { print $4 }' "$conf")
fi
if [ -z "$master" ]; then
  master="$set_name-0.$service"
fi
echo "sentinel-start: $me monitors $master_name at $master"

umask 077
cat > "$conf.new" <<CONF
port 26379
dir $dir
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $me
sentinel monitor $master_name $master 6379 $quorum
sentinel auth-pass $master_name $REDIS_PASSWORD
sentinel down-after-milliseconds $master_name 5000
sentinel failover-timeout $master_name 60000
sentinel parallel-syncs $master_name 1
CONF
mv "$conf.new" "$conf"
# Arguments given to this script are passed on (after the configuration file).
exec redis-server "$conf" --sentinel "$@"
