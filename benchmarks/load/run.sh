#!/usr/bin/env bash
# Load harness: the same upstream (tollgate mock-upstream) called directly, through nginx and
# through tollgate, in one run, so the ratios hold even though absolute figures drift on a shared
# machine. Usage: benchmarks/load/run.sh [seconds] [connections] [warm-up seconds] [json|stream]
# (stream: the same chat call with "stream": true, 16 content events and the usage chunk).
# Needs wrk and nginx (installed from Debian's packages if missing) and a built jar
# (mvn -B -q package -DskipTests).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-10}
WARM=${3:-10}   # seconds of load before each measured run (the JVM needs its JIT warm)
CONNS=${2:-32}
KIND=${4:-json}
# (not a TOLLGATE_ variable: the gateway refuses unknown ones, and it inherits this environment)
case "$KIND" in
  json) STREAM=0; WHAT="non-streamed chat completion" ;;
  stream) STREAM=1; WHAT="streamed chat completion (16 SSE content events; tollgate adds include_usage and hides its chunk)" ;;
  *) echo "kind must be json or stream: $KIND" >&2; exit 2 ;;
esac
JAR=gateway-core/target/tollgate.jar
[ -f "$JAR" ] || { echo "build first: mvn -B -q package -DskipTests" >&2; exit 1; }
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  apt-get install -y wrk nginx-light >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk nginx-light >/dev/null; }
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

MOCK=$(free_port); NGINX=$(free_port); BUYER=$(free_port); ADMIN=$(free_port)
TOKEN=bench-operator-token-0123456789
java -jar "$JAR" mock-upstream --port "$MOCK" --event-loops 1 >"$WORK/mock.log" 2>&1 & PIDS+=($!)
TOLLGATE_SERVER_PORT=$BUYER TOLLGATE_SERVER_HOST=127.0.0.1 TOLLGATE_SERVER_EVENT_LOOPS=1 \
  TOLLGATE_ADMIN_PORT=$ADMIN TOLLGATE_ADMIN_TOKEN=$TOKEN TOLLGATE_STORE_DATA_DIR="$WORK/data" \
  java ${GATEWAY_JAVA_OPTS:-} -jar "$JAR" serve --config config/tollgate.yaml >"$WORK/gateway.log" 2>&1 & PIDS+=($!)
cat >"$WORK/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream mock { server 127.0.0.1:$MOCK; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX;
    location / { proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
NGX
nginx -c "$WORK/nginx.conf" -p "$WORK"

for i in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$ADMIN/health/ready" >/dev/null 2>&1 && curl -s -o /dev/null "http://127.0.0.1:$MOCK/v1/models" && break
  sleep 0.2
done
json() { python3 -c "import sys,json; print(json.load(sys.stdin)['$1'])"; }
MTOKEN=$(curl -sf -H "authorization: Bearer $TOKEN" -d '{"name":"bench"}' "http://127.0.0.1:$ADMIN/admin/v1/merchants" | json token)
PRODUCT=$(curl -sf -H "authorization: Bearer $MTOKEN" -d "{\"name\":\"bench\",\"protocol\":\"openai\",\"endpoints\":[{\"url\":\"http://127.0.0.1:$MOCK\"}]}" "http://127.0.0.1:$ADMIN/admin/v1/products" | json id)
SKU=$(curl -sf -H "authorization: Bearer $MTOKEN" -d '{"name":"payg","models":["mock-gpt"],"billing":{"mode":"PER_TOKEN","currency":"USD","inputPricePerMillion":"0.15","outputPricePerMillion":"0.60"}}' "http://127.0.0.1:$ADMIN/admin/v1/products/$PRODUCT/skus" | json id)
KEY=$(curl -sf -H "authorization: Bearer $TOKEN" -d "{\"skuId\":\"$SKU\",\"buyerId\":\"bench-buyer\"}" "http://127.0.0.1:$ADMIN/admin/v1/subscriptions" | json apiKey)

# CPU ticks (utime + stime) of a process and its children threads/processes
ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
run() { # name url pids-of-the-proxy...
  local name=$1 url=$2; shift 2
  LOAD_STREAM=$STREAM TOLLGATE_KEY=$KEY wrk -t1 -c"$CONNS" -d"${WARM}s" -s benchmarks/load/chat.lua "$url/v1/chat/completions" >/dev/null 2>&1 || true
  local before=0; [ $# -gt 0 ] && before=$(ticks "$@")
  local out; out=$(LOAD_STREAM=$STREAM TOLLGATE_KEY=$KEY wrk -t1 -c"$CONNS" -d"${SECS}s" -s benchmarks/load/chat.lua "$url/v1/chat/completions" | grep RESULT)
  local after=0; [ $# -gt 0 ] && after=$(ticks "$@")
  local rps; rps=$(sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$out")
  local cpu="-"
  # ticks are 1/100 s; CPU microseconds per request of the proxy process
  [ $# -gt 0 ] && cpu=$(echo "scale=1; ($after - $before) * 10000 / ($rps * $SECS)" | bc -l)
  echo "$name ${out#RESULT } cpu_us=$cpu"
}
NGINX_PIDS="$(cat "$WORK/nginx.pid") $(pgrep -P "$(cat "$WORK/nginx.pid")" | tr '\n' ' ')"
DIRECT=$(run direct "http://127.0.0.1:$MOCK")
VIANGINX=$(run nginx "http://127.0.0.1:$NGINX" $NGINX_PIDS)
VIATOLLGATE=$(run tollgate "http://127.0.0.1:$BUYER" "${PIDS[1]}")
rps() { sed -E 's/.*rps=([0-9]+).*/\1/' <<<"$1"; }
echo "$WHAT, wrk -t1 -c$CONNS -d${SECS}s, mock upstream, 1 event loop / 1 nginx worker, $(nproc) cores shared"
cpu() { sed -E 's/.*cpu_us=([0-9.-]+).*/\1/' <<<"$1"; }
printf '| %-9s | %8s | %9s | %8s | %13s | %s |\n' path "req/s" "vs direct" "vs nginx" "CPU us/req" "latency p50 / p99, errors"
printf '|---|---|---|---|---|---|\n'
for line in "$DIRECT" "$VIANGINX" "$VIATOLLGATE"; do
  name=${line%% *}; r=$(rps "$line"); c=$(cpu "$line")
  [ "$name" = tollgate ] && c="$c ($(echo "scale=2; $c / $(cpu "$VIANGINX")" | bc -l)x nginx)"
  printf '| %-9s | %8s | %8.2fx | %7.2fx | %13s | %s |\n' "$name" "$r" "$(echo "$r / $(rps "$DIRECT")" | bc -l)" \
    "$(echo "$r / $(rps "$VIANGINX")" | bc -l)" "$c" "$(sed -E 's/^[a-z]+ rps=[0-9]+ //; s/ cpu_us=.*//' <<<"$line")"
done
