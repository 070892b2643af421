#!/usr/bin/env bash
# tollgate side by side with nginx, on the same upstream (issue 8). From the repository root,
# after `mvn -B -q -DskipTests package`:
#
#   benchmarks/load/run.sh                           # load: ~7 min with the defaults below
#   ROUNDS=1 SECS=3 WARM=2 benchmarks/load/run.sh    # a quick smoke
#   benchmarks/load/run.sh streams                   # 1,000 concurrent 10 s streams through tollgate
#
# load: an nginx (a worker per core) serves fixed OpenAI answers, picked by the request's Accept
# header: the recorded chat completion of fixtures/openai-chat.json (application/json), or a
# recorded stream cut to 16 content events, then the usage chunk and data: [DONE]
# (text/event-stream, chunked). In front of it, in turn, each in its own processes: nginx as a
# plain proxy_pass reverse proxy (worker_processes auto, upstream keepalive, proxy_buffering off)
# and tollgate as the README's `serve` runs it (default event loops, no JVM flags) with a
# TOKEN_PACKAGE subscription, so auth, package quota and metering are on; tollgate once on the
# embedded store and once on Redis (a private redis-server). wrk -t$THREADS -c$CONNS sends the
# calls of chat.lua: a warm-up of WARM s per kind and proxy, then ROUNDS rounds of SECS s per
# kind and proxy, in alternating order so drift hits both. Prints one markdown table (the
# median and, in brackets, the min–max over rounds; CPU is utime + stime of the proxy's own
# processes from /proc; peak RSS is VmHWM, reset before each run, summed over nginx's master and
# workers) and checks that tollgate metered every call wrk completed (at most the calls in
# flight when a wrk run stops, CONNS per run, may be metered on top).
#
# streams: tollgate's own mock upstream paces each stream (20 events over STREAM_SECS); a Python
# client opens STREAMS connections at once, each one streamed call read to data: [DONE]. Reports
# tollgate's peak RSS (VmHWM over its whole life), streams completed and calls metered.
#
# Settings (environment): SECS=10 ROUNDS=3 WARM=20 KINDS="json sse" STORES="embedded redis"
# (a store name ending in -noaccess, e.g. STORES="embedded embedded-noaccess", runs that tollgate
# with logging.access off, measured in the same rounds: the access log's cost; a store name with
# +VARIANT runs that tollgate with the JVM flags of $VARIANT_JAVA_OPTS after config/jvm.options and
# the NAME=value settings of $VARIANT_ENV, and the jar $VARIANT_JAR if set, e.g. STORES="embedded
# embedded+young" young_JAVA_OPTS=-Xmn32m: a flag, a setting or an earlier build against this one,
# in the same rounds; each tollgate process keeps its own speed over the rounds, and three
# processes of one build spread 0.88-1.02x of nginx in one run, so compare in both orders and
# beside a same-build control, e.g. STORES="embedded embedded+same embedded+before")
# (streams: "embedded") CONNS=32 THREADS=2 (one per core of the 2-core machine it was written on)
# DIRECT=1 (also measure the upstream without a proxy) SKU_MODE=TOKEN_PACKAGE|CALL_PACKAGE
# STREAMS=1000 STREAM_SECS=10 RSS_LIMIT_MB=256 KEEP=1 (keep the work directory with the logs).
# Installs wrk, nginx-light and redis-server with apt-get where missing; stops only the processes
# it started, by PID. Exit status 0 when every check passed, 1 when one failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/sbin:/sbin"
MODE=${1:-load}
case "$MODE" in load | streams) ;; *) echo "usage: $0 [load|streams]" >&2; exit 2 ;; esac
SECS=${SECS:-10} ROUNDS=${ROUNDS:-3} WARM=${WARM:-20} KINDS=${KINDS:-json sse}
CONNS=${CONNS:-32} THREADS=${THREADS:-2} DIRECT=${DIRECT:-1} SKU_MODE=${SKU_MODE:-TOKEN_PACKAGE}
STREAMS=${STREAMS:-1000} STREAM_SECS=${STREAM_SECS:-10} RSS_LIMIT_MB=${RSS_LIMIT_MB:-256}
if [ "$MODE" = streams ]; then STORES=${STORES:-embedded}; else STORES=${STORES:-embedded redis}; fi
JAR=gateway-core/target/tollgate.jar
HERE=benchmarks/load
[ -f "$JAR" ] || { echo "build first: mvn -B -q -DskipTests package" >&2; exit 1; }

log() { echo "[load] $*" >&2; }
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v python3 >/dev/null || missing+=(python3)
[[ " $STORES " == *" redis"* ]] && ! command -v redis-server >/dev/null && missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get install -y "${missing[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${missing[@]}" >/dev/null; }
fi
# tollgate derives its connection cap from this limit; 1,000 streams need 2,000 descriptors
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/tollgate-load.XXXXXX)
mkdir -p "$WORK/tmp"
PIDS=()
alive() { [ -r "/proc/$1/stat" ] && ! awk '{exit !($3 == "Z")}' "/proc/$1/stat" 2>/dev/null; }
cleanup() { # in reverse order, one at a time: tollgate stops before the Redis it flushes to
  local i p
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    p=${PIDS[$i]}
    kill -TERM "$p" 2>/dev/null || continue
    for _ in $(seq 1 150); do alive "$p" || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() {
  log "$*"
  for f in "$WORK"/*.log; do [ -s "$f" ] && { log "--- tail of $f"; tail -n 20 "$f" >&2; }; done
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start NAME COMMAND...: runs it in the background, logging to $WORK/NAME.log; its PID in $LAST
start() { local name=$1; shift; "$@" >"$WORK/$name.log" 2>&1 & LAST=$!; PIDS+=("$LAST"); }
wait_for() { # what pid command...: up to 60 s
  local what=$1 pid=$2; shift 2
  for _ in $(seq 1 300); do
    "$@" >/dev/null 2>&1 && return 0
    alive "$pid" || die "$what exited"
    sleep 0.2
  done
  die "$what did not come up in 60 s"
}
children() { echo "$1 $(pgrep -P "$1" | tr '\n' ' ')"; }
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
hwm_kb() { local k=0 p; for p in "$@"; do k=$((k + $(awk '/^VmHWM:/ {print $2}' "/proc/$p/status"))); done; echo "$k"; }
reset_hwm() { local p; for p in "$@"; do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }
jget() { python3 -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."): d = d[k]
print(d)' "$1"; }

# ---------------------------------------------------------------------------------- tollgate

TOKEN=load-operator-token-$RANDOM$RANDOM
REDIS_PORT=
declare -A BUYER ADMIN TPID KEY SUB DONE RUNS
start_redis() {
  REDIS_PORT=$(free_port)
  mkdir -p "$WORK/redis"
  # a private server: the shared one on 6379 stays untouched; persistence as the README advises
  start redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK/redis" --save '' \
    --appendonly yes --appendfsync always --daemonize no
  REDIS_PID=$LAST
  wait_for redis "$REDIS_PID" redis-cli -p "$REDIS_PORT" ping
}
start_tollgate() { # store, optionally suffixed -noaccess (logging.access off) and/or +VARIANT
  # (the JVM flags of $VARIANT_JAVA_OPTS after config/jvm.options, the NAME=value settings of
  # $VARIANT_ENV), e.g. STORES="embedded embedded+one" one_ENV=TOLLGATE_SERVER_EVENT_LOOPS=1
  local s=$1 base=${1%%+*} redis= access= variant= flags= settings= jar=$JAR
  if [ "$s" != "$base" ]; then
    variant=${s#*+}_JAVA_OPTS && flags=${!variant:-}
    variant=${s#*+}_ENV && settings=${!variant:-}
    variant=${s#*+}_JAR && jar=${!variant:-$JAR}
  fi
  [ "${base%-noaccess}" = redis ] && redis="TOLLGATE_STORE_REDIS_URI=redis://127.0.0.1:$REDIS_PORT"
  [ "$base" != "${base%-noaccess}" ] && access="TOLLGATE_LOGGING_ACCESS=off"
  BUYER[$s]=$(free_port) ADMIN[$s]=$(free_port)
  start "tollgate-$s" env TOLLGATE_SERVER_HOST=127.0.0.1 TOLLGATE_SERVER_PORT="${BUYER[$s]}" \
    TOLLGATE_ADMIN_PORT="${ADMIN[$s]}" TOLLGATE_ADMIN_TOKEN="$TOKEN" TOLLGATE_STORE_DATA_DIR="$WORK/data-$s" \
    $redis $access $settings java @config/jvm.options $flags -jar "$jar" serve --config config/tollgate.yaml
  TPID[$s]=$LAST DONE[$s]=0 RUNS[$s]=0
  wait_for "tollgate ($s)" "$LAST" curl -sf "http://127.0.0.1:${ADMIN[$s]}/health/ready"
}
api() { # store token path [body]: POST with a body, else GET
  curl -sS --fail-with-body -H "authorization: Bearer $2" -H 'content-type: application/json' \
    ${4:+--data "$4"} "http://127.0.0.1:${ADMIN[$1]}$3"
}
provision() { # store upstream-url model: a merchant, an openai product, a package SKU, a subscription
  local s=$1 mt product sku sub quota=1000000000000
  [ "$SKU_MODE" = CALL_PACKAGE ] && quota=1000000000
  mt=$(api "$s" "$TOKEN" /admin/v1/merchants \
    '{"name":"load","supportPhone":"+1 555 0100","supportEmail":"support@load.example"}' | jget token)
  product=$(api "$s" "$mt" /admin/v1/products \
    "{\"name\":\"load\",\"protocol\":\"openai\",\"endpoints\":[{\"url\":\"$2\"}]}" | jget id)
  sku=$(api "$s" "$mt" "/admin/v1/products/$product/skus" "{\"name\":\"package\",\"models\":[\"$3\"],\"billing\":
    {\"mode\":\"$SKU_MODE\",\"currency\":\"USD\",\"price\":\"100\",\"quota\":$quota,\"period\":\"MONTH\"}}" | jget id)
  api "$s" "$mt" "/admin/v1/products/$product/submit" '{}' >/dev/null   # the review: only listed products sell
  api "$s" "$TOKEN" "/admin/v1/products/$product/approve" '{}' >/dev/null
  sub=$(api "$s" "$TOKEN" /admin/v1/subscriptions "{\"skuId\":\"$sku\",\"buyerId\":\"load-buyer\"}")
  SUB[$s]=$(jget id <<<"$sub") KEY[$s]=$(jget apiKey <<<"$sub")
}
# metered STORE EXPECTED: waits until the subscription's metered calls stop changing (and reach
# EXPECTED), then prints "calls totalTokens estimatedTokens"
metered() {
  local s=$1 want=$2 prev= now= usage
  for _ in $(seq 1 30); do
    sleep 1
    usage=$(api "$s" "$TOKEN" "/admin/v1/usage?subscriptionId=${SUB[$s]}&granularity=day")
    now="$(jget total.calls <<<"$usage") $(jget total.totalTokens <<<"$usage") $(jget total.estimatedTokens <<<"$usage")"
    [ "$now" = "$prev" ] && [ "${now%% *}" -ge "$want" ] && break
    prev=$now
  done
  echo "$now"
}

# -------------------------------------------------------------------------------------- nginx

nginx_common() { # name
  cat <<NGX
worker_processes auto;
daemon off;
pid $WORK/$1.pid;
error_log $WORK/$1-error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $WORK/tmp/$1-body;
  proxy_temp_path $WORK/tmp/$1-proxy;
  fastcgi_temp_path $WORK/tmp/$1-fastcgi;
  uwsgi_temp_path $WORK/tmp/$1-uwsgi;
  scgi_temp_path $WORK/tmp/$1-scgi;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
NGX
}
start_upstream() {
  UP_PORT=$(free_port)
  python3 "$HERE/harness.py" bodies fixtures "$WORK/bodies"
  { nginx_common upstream; cat <<NGX
  include $WORK/bodies/bodies.conf;
  map \$http_accept \$reply { ~*text/event-stream /reply/sse; default /reply/json; }
  server {
    listen 127.0.0.1:$UP_PORT;
    location = /v1/chat/completions { rewrite ^ \$reply last; }
    location = /reply/json { internal; default_type application/json; return 200 "$(cat "$WORK/bodies/json.vars")"; }
    # ssi (with nothing to include) drops Content-Length, so the stream is chunked as OpenAI's are
    location = /reply/sse {
      internal; default_type text/event-stream; add_header Cache-Control no-cache;
      ssi on; ssi_types text/event-stream;
      return 200 "$(cat "$WORK/bodies/sse.vars")";
    }
  }
}
NGX
  } >"$WORK/upstream.conf"
  start upstream nginx -c "$WORK/upstream.conf" -p "$WORK"
  wait_for "upstream nginx" "$LAST" curl -sf -X POST -d '{}' "http://127.0.0.1:$UP_PORT/v1/chat/completions"
  UP_PIDS=$(children "$LAST")
}
start_proxy() {
  PROXY_PORT=$(free_port)
  { nginx_common proxy; cat <<NGX
  upstream fixed { server 127.0.0.1:$UP_PORT; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$PROXY_PORT;
    location / {
      proxy_pass http://fixed;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGX
  } >"$WORK/proxy.conf"
  start proxy nginx -c "$WORK/proxy.conf" -p "$WORK"
  wait_for "proxy nginx" "$LAST" curl -sf -X POST -d '{}' "http://127.0.0.1:$PROXY_PORT/v1/chat/completions"
  PROXY_PIDS=$(children "$LAST")
}

# --------------------------------------------------------------------------------------- load

accept_of() { [ "$1" = sse ] && echo text/event-stream || echo application/json; }
# sanity KIND URL KEY EXPECTED-BODY-FILE: one call, compared with what the upstream serves
sanity() {
  local got="$WORK/sanity.out" code
  code=$(curl -sS -o "$got" -w '%{http_code} %{content_type}' -H "authorization: Bearer $3" \
    -H "accept: $(accept_of "$1")" -H 'content-type: application/json' \
    --data "{\"model\":\"gpt-4.1-nano\",$([ "$1" = sse ] && echo '"stream":true,')\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
    "$2/v1/chat/completions")
  [[ "$code" == "200 "* ]] || die "$1 call to $2 answered $code: $(head -c 300 "$got")"
  cmp -s "$got" "$4" || die "$1 call to $2: body differs from $4"
}
wrk_run() { # kind url key secs -> the RESULT line of chat.lua
  LOAD_KIND=$1 LOAD_KEY=$3 wrk -t"$THREADS" -c"$CONNS" -d"$4s" -s "$HERE/chat.lua" "$2/v1/chat/completions" \
    | grep '^RESULT ' || die "wrk against $2 gave no result"
}
# counts a tollgate run's completed calls for the metering check
count() { # store result-line
  local kv r_requests=0 r_non2xx=0
  for kv in ${2#RESULT }; do declare "r_${kv%%=*}=${kv#*=}"; done
  DONE[$1]=$((DONE[$1] + r_requests - r_non2xx)) RUNS[$1]=$((RUNS[$1] + 1))
}
NON2XX=0
# measure ROUND KIND PROXY STORE URL KEY PIDS [EXTRA-PIDS]: one measured run, appended to $RESULTS
measure() {
  local rnd=$1 kind=$2 proxy=$3 store=$4 url=$5 key=$6 pids=$7 extra=${8:-} t0 x0=0 out kv
  local r_requests r_secs r_rps r_p50_ms r_p99_ms r_errors r_non2xx
  # shellcheck disable=SC2086
  reset_hwm $pids
  t0=$(ticks $pids); [ -n "$extra" ] && x0=$(ticks $extra)
  out=$(wrk_run "$kind" "$url" "$key" "$SECS")
  local t1 x1=0 hwm; t1=$(ticks $pids); [ -n "$extra" ] && x1=$(ticks $extra); hwm=$(hwm_kb $pids)
  for kv in ${out#RESULT }; do declare "r_${kv%%=*}=${kv#*=}"; done
  echo "$rnd $kind $proxy $store $r_requests $r_secs $r_p50_ms $r_p99_ms $r_errors $r_non2xx $((t1 - t0)) $hwm $((x1 - x0))" >>"$RESULTS"
  log "round $rnd $kind $proxy${store:+ ($store)}: ${out#RESULT }"
  NON2XX=$((NON2XX + r_non2xx))
  [ "$proxy" = tollgate ] && count "$store" "$out"
  return 0
}

load() {
  [[ " $STORES " == *" redis"* ]] && start_redis
  start_upstream
  start_proxy
  local s k
  for s in $STORES; do start_tollgate "$s"; provision "$s" "http://127.0.0.1:$UP_PORT" gpt-4.1-nano; done
  local anykey=${KEY[${STORES%% *}]:-tg-none}
  # what the buyer receives: nginx passes both bodies on as they are; tollgate too, except the
  # usage chunk of a stream, which the buyer did not ask for (no stream_options.include_usage)
  grep -v '"choices":\[\]' "$WORK/bodies/sse.body" | cat -s >"$WORK/bodies/sse-no-usage.body"
  for k in $KINDS; do
    sanity "$k" "http://127.0.0.1:$UP_PORT" "$anykey" "$WORK/bodies/$k.body"
    sanity "$k" "http://127.0.0.1:$PROXY_PORT" "$anykey" "$WORK/bodies/$k.body"
    for s in $STORES; do
      sanity "$k" "http://127.0.0.1:${BUYER[$s]}" "${KEY[$s]}" \
        "$WORK/bodies/$([ "$k" = sse ] && echo sse-no-usage || echo json).body"
      DONE[$s]=$((DONE[$s] + 1))
    done
  done
  log "upstream nginx :$UP_PORT (pids $UP_PIDS), proxy nginx :$PROXY_PORT (pids $PROXY_PIDS), tollgate $(
    for s in $STORES; do printf '%s :%s (pid %s) ' "$s" "${BUYER[$s]}" "${TPID[$s]}"; done)"
  for k in $KINDS; do
    log "warm-up $k: ${WARM}s each"
    wrk_run "$k" "http://127.0.0.1:$PROXY_PORT" "$anykey" "$WARM" >/dev/null
    for s in $STORES; do count "$s" "$(wrk_run "$k" "http://127.0.0.1:${BUYER[$s]}" "${KEY[$s]}" "$WARM")"; done
  done
  RESULTS=$WORK/results.txt
  : >"$RESULTS"
  local rnd targets t
  for rnd in $(seq 1 "$ROUNDS"); do
    targets="nginx"
    for s in $STORES; do targets="$targets tollgate:$s"; done
    # odd rounds nginx first, even rounds nginx last
    [ $((rnd % 2)) = 0 ] && targets=$(tr ' ' '\n' <<<"$targets" | tac | tr '\n' ' ')
    for k in $KINDS; do
      [ "$DIRECT" = 1 ] && measure "$rnd" "$k" upstream - "http://127.0.0.1:$UP_PORT" "$anykey" "$UP_PIDS"
      for t in $targets; do
        case $t in
          nginx) measure "$rnd" "$k" nginx - "http://127.0.0.1:$PROXY_PORT" "$anykey" "$PROXY_PIDS" ;;
          tollgate:*) s=${t#tollgate:}
            measure "$rnd" "$k" tollgate "$s" "http://127.0.0.1:${BUYER[$s]}" "${KEY[$s]}" "${TPID[$s]}" \
              "$([ "${s%-noaccess}" = redis ] && echo "$REDIS_PID")" ;;
        esac
      done
    done
  done

  local failed=0 m calls
  echo
  echo "wrk -t$THREADS -c$CONNS, ${SECS}s per run, $ROUNDS round(s) after ${WARM}s of warm-up per kind and proxy;" \
    "$(nproc) cores shared with wrk and the upstream; $(nginx -v 2>&1 | sed 's/.*: //'), $(java -version 2>&1 | head -1)," \
    "tollgate $SKU_MODE subscription; redis: private redis-server (its CPU shown apart)"
  echo
  python3 "$HERE/harness.py" table "$RESULTS"
  echo
  for s in $STORES; do
    m=$(metered "$s" "${DONE[$s]}")
    calls=${m%% *}
    local slack=$((RUNS[$s] * CONNS)) verdict=ok
    if [ "$calls" -lt "${DONE[$s]}" ] || [ "$calls" -gt $((DONE[$s] + slack)) ]; then verdict=FAILED; failed=1; fi
    echo "metering ($s): $calls calls metered, ${DONE[$s]} completed by wrk and curl over ${RUNS[$s]} wrk runs" \
      "(at most $slack more may be metered: calls in flight when a run stops); tokens $(cut -d' ' -f2 <<<"$m")," \
      "estimated $(cut -d' ' -f3 <<<"$m"): $verdict"
  done
  if [ "$NON2XX" -gt 0 ]; then echo "wrk saw $NON2XX non-2xx answers: FAILED"; failed=1; fi
  [ "$failed" = 0 ] || exit 1
}

# ------------------------------------------------------------------------------------ streams

spread() { python3 -c 'import json, sys
d = json.loads(sys.argv[2])[sys.argv[1]]
print(" / ".join(str(d[k]) for k in ("min", "p50", "max")) if d else "-")' "$1" "$2"; }
streams() {
  [[ " $STORES " == *" redis "* ]] && start_redis
  local mock s out calls failed=0 delay=$((STREAM_SECS * 1000 / 19))
  mock=$(free_port)
  start mock java -jar "$JAR" mock-upstream --port "$mock" --event-loops 2
  wait_for "mock upstream" "$LAST" curl -sf "http://127.0.0.1:$mock/v1/models"
  echo
  echo "$STREAMS concurrent streamed calls through tollgate, each 20 events ${delay} ms apart from the mock upstream;" \
    "tollgate as serve runs it ($(java -version 2>&1 | head -1)), descriptor limit $(ulimit -n)"
  echo
  echo "| store | completed | failed | streaming at once | head s (min / p50 / max) | duration s (min / p50 / max) | RSS before MB | peak RSS MB (VmHWM) | metered calls | result |"
  echo "|---|---:|---:|---:|---|---|---:|---:|---:|---|"
  for s in $STORES; do
    start_tollgate "$s"
    provision "$s" "http://127.0.0.1:$mock" mock-gpt
    out=$(python3 "$HERE/harness.py" streams --port "${BUYER[$s]}" --key "${KEY[$s]}" --n "$STREAMS" \
      --delay-ms "$delay" --pid "${TPID[$s]}" --timeout $((STREAM_SECS * 3 + 30)))
    log "streams ($s): $out"
    local completed hwm verdict=ok
    completed=$(jget completed <<<"$out") hwm=$(jget vmhwm_mb <<<"$out")
    calls=$(metered "$s" "$completed"); calls=${calls%% *}
    if [ "$completed" != "$STREAMS" ] || [ "$calls" != "$completed" ]; then verdict="FAILED (streams or metering)"; failed=1; fi
    if python3 -c "import sys; sys.exit(not float(sys.argv[1]) >= float(sys.argv[2]))" "$hwm" "$RSS_LIMIT_MB"; then
      verdict="FAILED (RSS ≥ $RSS_LIMIT_MB MB)"; failed=1
    fi
    echo "| $s | $completed | $(jget failed <<<"$out") | $(jget max_concurrent <<<"$out")" \
      "| $(spread head_s "$out") | $(spread duration_s "$out")" \
      "| $(jget rss_before_mb <<<"$out") | $hwm | $calls | $verdict |"
    [ "$(jget failed <<<"$out")" = 0 ] || echo "failures ($s): $(jget failures <<<"$out")"
  done
  [ "$failed" = 0 ] || exit 1
}

# (called plainly, not in a condition, so that set -e holds inside)
"$MODE"
