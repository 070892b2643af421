package io.tollgate.gateway.licence;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.metering.health.TaskHealth;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies heartbeats' last-seen times to the machines table in batches, and tidies dead machines
 * away: the periodic task {@value #TASK}.
 *
 * <p>A heartbeat only records its time here (one map merge); every {@code interval} the times
 * recorded since the last run are written in one batch, one row per machine however many
 * heartbeats it sent. So the database writes per second are at most the active machines divided
 * by the interval, whatever the heartbeat rate (100,000 machines and the default 30 s: at most 3,333
 * rows a second, in batches of 500; {@code LicenceHeartbeatLoad} measured 3,174 rows/s in 0.07
 * batch statements/s at 3,174 heartbeats/s). The table's times
 * only matter when the seen store lost its own (an in-memory store after a restart): every read
 * merges the fresher times first.
 *
 * <p>Survives any failure: a failed batch goes back into the map (a later time wins), the failure
 * is logged and counted ({@code tollgate_task_failures_total{task="licence-last-seen"}}), shows in
 * {@code /health/ready}, and the next run waits twice as long, up to ten intervals.
 */
final class LastSeenWriter implements AutoCloseable {

  static final String TASK = "licence-last-seen";
  private static final Logger log = LoggerFactory.getLogger(LastSeenWriter.class);
  /** The sweep runs every this many rounds, deleting at most {@link #SWEEP_LIMIT} machines. */
  private static final int SWEEP_EVERY = 10;
  private static final int SWEEP_LIMIT = 1_000;

  private final ConcurrentHashMap<MachineKey, Long> pending = new ConcurrentHashMap<>();
  private final Machines machines;
  private final Clock clock;
  private final Duration interval;
  private final TaskHealth.Task task;
  private final Counter rows;
  private final Counter batches;
  private final ScheduledExecutorService timer;
  private long rounds;
  private Duration delay;

  LastSeenWriter(Machines machines, Clock clock, Duration interval, TaskHealth health, MeterRegistry registry) {
    this.machines = machines;
    this.clock = clock;
    this.interval = interval;
    this.delay = interval;
    this.task = health.task(TASK, interval.multipliedBy(12).plusSeconds(30));
    this.rows = Counter.builder("tollgate.licence.last.seen.writes")
        .description("machine rows whose last-seen time the licence heartbeats' batches wrote").register(registry);
    this.batches = Counter.builder("tollgate.licence.last.seen.batches")
        .description("batches of last-seen times written to the database").register(registry);
    Gauge.builder("tollgate.licence.last.seen.pending", pending, Map::size)
        .description("machines whose last-seen time waits for the next batch").register(registry);
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "tollgate-licence-writer");
      t.setDaemon(true);
      return t;
    });
  }

  LastSeenWriter start() {
    timer.schedule(this::round, delay.toMillis(), TimeUnit.MILLISECONDS);
    return this;
  }

  /** A heartbeat of {@code key} at {@code millis}, for the next batch. */
  void seen(MachineKey key, long millis) {
    pending.merge(key, millis, Math::max);
  }

  private void round() {
    try {
      flush();
      if (++rounds % SWEEP_EVERY == 0) {
        machines.sweep(clock.millis(), SWEEP_LIMIT);
      }
      task.succeeded();
      delay = interval;
    } catch (Throwable e) {
      task.failed(e, e instanceof java.sql.SQLException || e instanceof io.lettuce.core.RedisException
          ? TaskHealth.Cause.DEPENDENCY : TaskHealth.Cause.LOCAL);
      delay = delay.multipliedBy(2).compareTo(interval.multipliedBy(10)) > 0 ? interval.multipliedBy(10)
          : delay.multipliedBy(2);
      log.warn("licence last-seen batch failed; retrying in {}: {}", delay, e.toString());
    } finally {
      if (!timer.isShutdown()) {
        timer.schedule(this::round, delay.toMillis(), TimeUnit.MILLISECONDS);
      }
    }
  }

  /**
   * Writes what is pending now in one batch; on failure it is pending again.
   *
   * @return the rows written
   */
  int flush() throws java.sql.SQLException {
    Map<MachineKey, Long> batch = new HashMap<>();
    for (var e : pending.entrySet()) {
      if (pending.remove(e.getKey(), e.getValue())) {
        batch.put(e.getKey(), e.getValue());
      }
    }
    if (batch.isEmpty()) {
      return 0;
    }
    try {
      int written = machines.writeLastSeen(batch);
      rows.increment(written);
      batches.increment();
      return written;
    } catch (java.sql.SQLException | RuntimeException e) {
      batch.forEach((k, v) -> pending.merge(k, v, Math::max));
      throw e;
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
    try {
      flush(); // the last heartbeats, so a restart with an in-memory store finds them alive
    } catch (Exception e) {
      log.warn("licence last-seen times of {} machines not written on close: {}", pending.size(), e.toString());
    }
  }
}
