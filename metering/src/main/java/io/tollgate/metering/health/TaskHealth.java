package io.tollgate.metering.health;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The health of tollgate's background tasks (usage flush, journal sync, quota refills, cache
 * refreshes, endpoint probes), so that none of them can stop or fail silently: a silent stop is
 * the worst failure a metering system has (a flusher that died once kept serving calls that were
 * never counted, with readiness UP and no metric moving).
 *
 * <p>Each task reports every run: {@link Task#succeeded()} or {@link Task#failed}. A failure says
 * whether its cause is {@link Cause#LOCAL} to this instance (the journal directory, descriptors,
 * a bug: taking the instance out of rotation helps) or a shared {@link Cause#DEPENDENCY} (the
 * meter store, the catalog database: every instance sees the same outage, so leaving rotation
 * would turn a metering outage into a total one while the journal holds the usage). A periodic
 * task also has a deadline: if it has not reported for {@code staleAfter} it is {@link
 * State#STALLED} — its thread died or hangs — whatever it last said.
 *
 * <p>{@link #ready()} is false while a task fails for a local reason or is stalled; every task's
 * state is in {@link #statuses()} for {@code /health/ready}, and in metrics: {@code
 * tollgate_task_up{task}} (1 or 0), {@code tollgate_task_failures_total{task,cause}} and {@code
 * tollgate_task_last_success_age_seconds{task}}.
 *
 * <p>Reporting is cheap (a few volatile writes; a counter only on failure), so tasks report on
 * every run.
 */
public final class TaskHealth {

  /** Where a failure comes from; see the class comment. */
  public enum Cause {
    LOCAL,
    DEPENDENCY
  }

  /** A task's state as {@code /health/ready} shows it. */
  public enum State {
    OK,
    FAILING,
    STALLED
  }

  /**
   * One task's state.
   *
   * @param lastSuccess null if it never succeeded
   * @param lastError the last failure's description, null if it never failed
   * @param cause the cause of the current failure, null while OK
   */
  public record Status(String name, State state, long consecutiveFailures, long failures,
      Instant lastSuccess, Instant lastFailure, String lastError, Cause cause) {

    public Status {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(state, "state");
      if (consecutiveFailures < 0 || failures < consecutiveFailures) {
        throw new IllegalArgumentException("failure counts out of order: " + consecutiveFailures
            + " consecutive of " + failures);
      }
    }

    /** Whether this state takes the instance out of rotation. */
    public boolean blocksReadiness() {
      return state == State.STALLED || (state == State.FAILING && cause == Cause.LOCAL);
    }
  }

  private final Clock clock;
  private final MeterRegistry registry;
  private final ConcurrentHashMap<String, Task> tasks = new ConcurrentHashMap<>();

  public TaskHealth(Clock clock, MeterRegistry registry) {
    this.clock = Objects.requireNonNull(clock, "clock");
    this.registry = Objects.requireNonNull(registry, "registry");
  }

  /**
   * The task called {@code name}, registered on first use; the same instance for the same name.
   *
   * @param staleAfter how long the task may go without reporting before it counts as stalled;
   *     null for a task that runs on demand and has no deadline
   */
  public Task task(String name, Duration staleAfter) {
    return tasks.computeIfAbsent(name, n -> new Task(n, staleAfter));
  }

  /** Every task's state, sorted by name. */
  public List<Status> statuses() {
    List<Status> out = new ArrayList<>();
    tasks.values().forEach(t -> out.add(t.status()));
    out.sort((a, b) -> a.name().compareTo(b.name()));
    return out;
  }

  /** False while some task fails for a local reason or has stalled. */
  public boolean ready() {
    for (Task t : tasks.values()) {
      if (t.status().blocksReadiness()) {
        return false;
      }
    }
    return true;
  }

  /** One background task's reports. Thread-safe; a task usually reports from one thread. */
  public final class Task {

    private final String name;
    private final long staleAfterMillis;
    private final long createdAt = clock.millis();
    private final Counter localFailures;
    private final Counter dependencyFailures;
    private volatile long lastReport;
    private volatile long lastSuccess = -1;
    private volatile long lastFailure = -1;
    private volatile String lastError;
    private volatile Cause cause;
    private volatile long consecutive;
    private volatile long failures;

    private Task(String name, Duration staleAfter) {
      this.name = name;
      this.staleAfterMillis = staleAfter == null ? -1 : staleAfter.toMillis();
      this.lastReport = clock.millis();
      this.localFailures = Counter.builder("tollgate.task.failures").tag("task", name)
          .tag("cause", "local").description("failed runs of a background task").register(registry);
      this.dependencyFailures = Counter.builder("tollgate.task.failures").tag("task", name)
          .tag("cause", "dependency").description("failed runs of a background task").register(registry);
      Gauge.builder("tollgate.task.up", this, t -> t.status().state() == State.OK ? 1 : 0).tag("task", name)
          .description("1 while a background task runs and succeeds").register(registry);
      Gauge.builder("tollgate.task.last.success.age", this, Task::lastSuccessAgeSeconds).tag("task", name)
          .baseUnit("seconds").description("seconds since the task last succeeded (since start if never)")
          .register(registry);
    }

    public String name() {
      return name;
    }

    /** The task ran and did its work. */
    public void succeeded() {
      long now = clock.millis();
      lastReport = now;
      lastSuccess = now;
      if (consecutive != 0) {
        consecutive = 0;
        cause = null;
      }
    }

    /**
     * The task is in the middle of a long run and making progress: it has not stalled. Changes
     * nothing else (a run that has not finished has neither succeeded nor failed yet). For runs
     * whose length grows with the work, such as the exporter catching up after an outage, which
     * would otherwise count as stalled and take the instance out of rotation while it works.
     */
    public void running() {
      lastReport = clock.millis();
    }

    /** The task ran and failed; it will run again. */
    public synchronized void failed(Throwable error, Cause why) {
      long now = clock.millis();
      lastReport = now;
      lastFailure = now;
      lastError = describe(error);
      cause = why;
      consecutive++;
      failures++;
      (why == Cause.LOCAL ? localFailures : dependencyFailures).increment();
    }

    public Status status() {
      long now = clock.millis();
      long c = consecutive;
      State state;
      if (staleAfterMillis >= 0 && now - lastReport > staleAfterMillis) {
        state = State.STALLED;
      } else {
        state = c > 0 ? State.FAILING : State.OK;
      }
      long success = lastSuccess;
      long failure = lastFailure;
      return new Status(name, state, c, Math.max(failures, c),
          success < 0 ? null : Instant.ofEpochMilli(success),
          failure < 0 ? null : Instant.ofEpochMilli(failure), lastError, c > 0 ? cause : null);
    }

    private double lastSuccessAgeSeconds() {
      long since = lastSuccess < 0 ? createdAt : lastSuccess;
      return (clock.millis() - since) / 1000.0;
    }
  }

  private static String describe(Throwable t) {
    if (t == null) {
      return "unknown error";
    }
    String m = t.getMessage();
    String s = m == null ? t.getClass().getSimpleName() : t.getClass().getSimpleName() + ": " + m;
    return s.length() > 300 ? s.substring(0, 300) + "..." : s;
  }
}
