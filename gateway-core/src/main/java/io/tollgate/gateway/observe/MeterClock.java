package io.tollgate.gateway.observe;

import io.micrometer.core.instrument.Clock;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The meter registry's clock: a wall time read from a field that one daemon thread refreshes every
 * {@value #TICK_MILLIS} ms, and the exact {@link System#nanoTime()} as monotonic time.
 *
 * <p>Why: Micrometer reads {@link Clock#wallTime()} on every sample, twice for a timer or a
 * distribution summary (its {@code TimeWindowMax} and its histogram each check whether their time
 * window has to rotate). A proxied call records five such samples on its event loop, so ten clock
 * reads; in the {@code CallMetersBenchmark} they were half of the CPU that recording a call's meters
 * cost on this machine (a {@code clock_gettime} through the vDSO on a paravirtualised clock). A
 * volatile read costs next to nothing.
 *
 * <p>What it changes: nothing counted. Counts, sums and bucket counts do not depend on the clock.
 * The wall time only decides in which window of a {@code _max} (Prometheus: 3 windows of 40 s) a
 * sample falls, and the created timestamps of meters; it lags the system's by at most one tick
 * (plus the ticker's scheduling delay), far less than a window. {@link #monotonicTime()} (timer
 * samples, long task timers) is exact.
 *
 * <p>Until {@link #start()} and after {@link #close()}, {@link #wallTime()} reads the system clock,
 * so a registry made with it works before the ticker runs and after it stopped.
 */
public final class MeterClock implements Clock, AutoCloseable {

  /** How often the wall time is refreshed. */
  public static final long TICK_MILLIS = 10;

  /** The last tick's wall time; 0 while not ticking. */
  private volatile long wallTime;
  private ScheduledExecutorService ticker; // guarded by this

  /** Starts refreshing the wall time on a daemon thread, {@code tollgate-meter-clock}. Idempotent. */
  public synchronized MeterClock start() {
    if (ticker == null) {
      wallTime = System.currentTimeMillis();
      ticker = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "tollgate-meter-clock");
        t.setDaemon(true);
        return t;
      });
      ticker.scheduleAtFixedRate(() -> wallTime = System.currentTimeMillis(), TICK_MILLIS, TICK_MILLIS,
          TimeUnit.MILLISECONDS);
    }
    return this;
  }

  @Override
  public long wallTime() {
    long t = wallTime;
    return t != 0 ? t : System.currentTimeMillis();
  }

  @Override
  public long monotonicTime() {
    return System.nanoTime();
  }

  /** Stops the ticker; the wall time is the system's again. */
  @Override
  public synchronized void close() {
    if (ticker != null) {
      ticker.shutdownNow();
      try {
        // a tick already running would set the field again after it is cleared
        ticker.awaitTermination(1, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      ticker = null;
    }
    wallTime = 0;
  }
}
