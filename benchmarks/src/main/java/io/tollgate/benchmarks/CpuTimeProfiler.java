package io.tollgate.benchmarks;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.ScalarResult;

/**
 * The benchmark JVM's CPU time per operation ({@code cpu.time.norm}, ns/op), and the cores it got
 * on average ({@code cpu.cores}). On this machine the benchmarks share 2 cores with other work, so
 * the time per operation JMH measures is the wall clock's, stretched by however long the thread
 * waited for a core; the CPU time it used is not. It counts the whole process: the benchmark's
 * threads, and also the component's own (the aggregator's flusher, lease refills, cache loads), the
 * garbage collector and the JIT, which are part of the cost too. Normalised like {@code -prof gc}'s
 * {@code gc.alloc.rate.norm}: by all operations of the iteration, on all threads.
 *
 * <p>It also reports the benchmark's own threads apart (JMH's workers, the threads that run the
 * {@code @Benchmark} method): their CPU time per operation ({@code cpu.worker.norm}, ns/op), which
 * leaves out the component's background threads and the waits for a core that stretch the wall
 * clock, and the bytes they allocated per operation ({@code alloc.worker.norm}, B/op), which
 * leaves out what background threads allocate per batch or per segment: what the operation
 * itself costs the thread that calls it, e.g. the event loop that records a usage event.
 *
 * <p>Use: {@code -prof io.tollgate.benchmarks.CpuTimeProfiler}.
 */
public final class CpuTimeProfiler implements InternalProfiler {

  private final com.sun.management.OperatingSystemMXBean os =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
  private final com.sun.management.ThreadMXBean threads =
      (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
  private long cpuBefore;
  private long wallBefore;
  /** Per worker thread id: CPU time and allocated bytes at the iteration's start. */
  private final Map<Long, long[]> workersBefore = new HashMap<>();

  @Override
  public String getDescription() {
    return "process CPU time per operation";
  }

  @Override
  public void beforeIteration(BenchmarkParams benchmark, IterationParams iteration) {
    workersBefore.clear();
    for (long id : workerIds()) {
      workersBefore.put(id, new long[] {threads.getThreadCpuTime(id), threads.getThreadAllocatedBytes(id)});
    }
    wallBefore = System.nanoTime();
    cpuBefore = os.getProcessCpuTime();
  }

  /** JMH's worker threads: those that run the benchmark method. */
  private long[] workerIds() {
    ThreadInfo[] infos = threads.getThreadInfo(threads.getAllThreadIds());
    return Arrays.stream(infos)
        .filter(t -> t != null && t.getThreadName().contains("-jmh-worker-"))
        .mapToLong(ThreadInfo::getThreadId)
        .toArray();
  }

  @Override
  public List<ScalarResult> afterIteration(BenchmarkParams benchmark, IterationParams iteration, IterationResult result) {
    long cpu = os.getProcessCpuTime() - cpuBefore;
    long wall = System.nanoTime() - wallBefore;
    long workerCpu = 0;
    long workerBytes = 0;
    for (long id : workerIds()) {
      long[] before = workersBefore.getOrDefault(id, new long[2]); // started during the iteration
      long threadCpu = threads.getThreadCpuTime(id);
      long threadBytes = threads.getThreadAllocatedBytes(id);
      if (threadCpu >= 0 && threadBytes >= 0) { // -1 once the thread has ended
        workerCpu += threadCpu - before[0];
        workerBytes += threadBytes - before[1];
      }
    }
    long ops = result.getMetadata().getAllOps();
    return List.of(
        new ScalarResult("cpu.time.norm", ops == 0 ? Double.NaN : (double) cpu / ops, "ns/op", AggregationPolicy.AVG),
        new ScalarResult("cpu.cores", (double) cpu / wall, "cores", AggregationPolicy.AVG),
        new ScalarResult("cpu.worker.norm", ops == 0 ? Double.NaN : (double) workerCpu / ops, "ns/op",
            AggregationPolicy.AVG),
        new ScalarResult("alloc.worker.norm", ops == 0 ? Double.NaN : (double) workerBytes / ops, "B/op",
            AggregationPolicy.AVG));
  }
}
