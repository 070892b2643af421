package io.tollgate.benchmarks;

import java.lang.management.ManagementFactory;
import java.util.List;
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
 * <p>Use: {@code -prof io.tollgate.benchmarks.CpuTimeProfiler}.
 */
public final class CpuTimeProfiler implements InternalProfiler {

  private final com.sun.management.OperatingSystemMXBean os =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
  private long cpuBefore;
  private long wallBefore;

  @Override
  public String getDescription() {
    return "process CPU time per operation";
  }

  @Override
  public void beforeIteration(BenchmarkParams benchmark, IterationParams iteration) {
    wallBefore = System.nanoTime();
    cpuBefore = os.getProcessCpuTime();
  }

  @Override
  public List<ScalarResult> afterIteration(BenchmarkParams benchmark, IterationParams iteration, IterationResult result) {
    long cpu = os.getProcessCpuTime() - cpuBefore;
    long wall = System.nanoTime() - wallBefore;
    long ops = result.getMetadata().getAllOps();
    return List.of(
        new ScalarResult("cpu.time.norm", ops == 0 ? Double.NaN : (double) cpu / ops, "ns/op", AggregationPolicy.AVG),
        new ScalarResult("cpu.cores", (double) cpu / wall, "cores", AggregationPolicy.AVG));
  }
}
