package io.tollgate.benchmarks;

import io.tollgate.gateway.observe.AccessLog;
import io.tollgate.gateway.observe.CallSummary;
import java.io.OutputStream;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What one access-log line costs: the buyer's event loop offers the call's summary (what {@code
 * AccessLog.ended} does on the loop) and the access log's own thread encodes it and writes it, in
 * batches, to an output that discards the bytes (the system call of a real output is one per batch,
 * not per line). Read the process CPU time per line ({@code cpu.time.norm}, both threads together)
 * against the buyer port's CPU per proxied call in the load harness (about 40 us): the line is
 * meant to cost well under 3% of it. Lines are offered 4,096 at a time, and the benchmark thread then
 * waits, parked a millisecond at a time, until the writer has taken them all, so no line is dropped and every line measured
 * was encoded and written.
 *
 * <p>Run (from the project root):
 *
 * <pre>
 * mvn -B -q package -pl benchmarks -am -DskipTests
 * java -jar benchmarks/target/benchmarks.jar AccessLogBenchmark -prof gc \
 *   -prof io.tollgate.benchmarks.CpuTimeProfiler -rf json -rff benchmarks/results/access-log.json
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class AccessLogBenchmark {

  private static final int BATCH = 4096;
  private final CallSummary[] calls = new CallSummary[BATCH];
  private AccessLog log;

  @Setup(Level.Trial)
  public void start() {
    for (int i = 0; i < BATCH; i++) {
      calls[i] = new CallSummary(UUID.randomUUID(), "sub_" + i, "prod_1", "sku_1", "openai", "gpt-4o-mini", "POST",
          "/v1/chat/completions", 200, 200, 1_234_567L + i, 456_789L + i, 120 + i, 48 + i, false, 612 + i,
          "127.0.0.1:18080");
    }
    log = AccessLog.writingTo(OutputStream.nullOutputStream());
  }

  @TearDown(Level.Trial)
  public void stop() {
    log.close();
    if (log.dropped() > 0) {
      throw new IllegalStateException(log.dropped() + " lines dropped: the figure would be too low");
    }
  }

  @Benchmark
  @OperationsPerInvocation(BATCH)
  public void lineOfferedEncodedAndWritten() {
    for (int i = 0; i < BATCH; i++) {
      log.ended(calls[i]);
    }
    while (log.queued() > 0) {
      LockSupport.parkNanos(1_000_000);
    }
  }
}
