package io.tollgate.metering.health;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class TaskHealthTest {

  /** A clock the test moves. */
  static final class MovableClock extends Clock {
    Instant now = Instant.parse("2026-12-01T10:00:00Z");

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  final MovableClock clock = new MovableClock();
  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final TaskHealth health = new TaskHealth(clock, registry);

  TaskHealth.Status status(String name) {
    return health.statuses().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
  }

  @Test
  void aPeriodicTaskThatStopsReporting_isStalled_andTakesTheInstanceOutOfReadiness() {
    TaskHealth.Task flush = health.task("usage-flush", Duration.ofSeconds(15));
    flush.succeeded();
    clock.now = clock.now.plusSeconds(14);
    assertThat(status("usage-flush").state()).isEqualTo(TaskHealth.State.OK);
    assertThat(health.ready()).isTrue();

    clock.now = clock.now.plusSeconds(2); // 16 s without a report: its thread died or hangs
    assertThat(status("usage-flush").state()).isEqualTo(TaskHealth.State.STALLED);
    assertThat(health.ready()).as("a stalled task must not go unnoticed").isFalse();
    assertThat(registry.get("tollgate.task.up").tag("task", "usage-flush").gauge().value()).isZero();

    flush.succeeded();
    assertThat(health.ready()).isTrue();
    assertThat(registry.get("tollgate.task.up").tag("task", "usage-flush").gauge().value()).isOne();
  }

  @Test
  void aLongRunThatSaysItIsRunning_isNotStalled_andKeepsItsState() {
    TaskHealth.Task export = health.task("billing-export", Duration.ofSeconds(15));
    export.failed(new IllegalStateException("database down"), TaskHealth.Cause.DEPENDENCY);
    for (int i = 0; i < 5; i++) { // a run of 50 s, three times the deadline
      clock.now = clock.now.plusSeconds(10);
      export.running();
    }
    assertThat(status("billing-export").state()).as("still failing until the run ends")
        .isEqualTo(TaskHealth.State.FAILING);
    assertThat(status("billing-export").consecutiveFailures()).isOne();

    clock.now = clock.now.plusSeconds(16);
    assertThat(status("billing-export").state()).isEqualTo(TaskHealth.State.STALLED);
  }

  @Test
  void failures_areCountedByCause_andOnlyLocalOnesBlockReadiness() {
    TaskHealth.Task refill = health.task("quota-refill", null);
    refill.failed(new IllegalStateException("redis down"), TaskHealth.Cause.DEPENDENCY);
    assertThat(status("quota-refill").state()).isEqualTo(TaskHealth.State.FAILING);
    assertThat(status("quota-refill").lastError()).isEqualTo("IllegalStateException: redis down");
    assertThat(health.ready()).as("a shared store's outage keeps the instance ready").isTrue();

    TaskHealth.Task flush = health.task("usage-flush", Duration.ofSeconds(15));
    flush.failed(new IOException("Too many open files"), TaskHealth.Cause.LOCAL);
    flush.failed(new IOException("Too many open files"), TaskHealth.Cause.LOCAL);
    assertThat(health.ready()).isFalse();
    assertThat(status("usage-flush").consecutiveFailures()).isEqualTo(2);
    assertThat(registry.get("tollgate.task.failures").tag("task", "usage-flush").tag("cause", "local")
        .counter().count()).isEqualTo(2);
    assertThat(registry.get("tollgate.task.failures").tag("task", "quota-refill").tag("cause", "dependency")
        .counter().count()).isEqualTo(1);

    flush.succeeded();
    assertThat(health.ready()).isTrue();
    assertThat(status("usage-flush").failures()).as("the total stays").isEqualTo(2);
    assertThat(status("usage-flush").consecutiveFailures()).isZero();
    assertThat(health.task("quota-refill", null)).as("one task per name").isSameAs(refill);
    clock.now = clock.now.plus(Duration.ofDays(1));
    assertThat(status("quota-refill").state()).as("an on-demand task has no deadline")
        .isEqualTo(TaskHealth.State.FAILING);
  }
}
