package io.tollgate.metering.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the Redis store adds to {@link ExportSourceContract}: marks written after the scripts. */
interface RedisExportMarksContract extends ExportSourceContract<RedisMeterStore> {

  /** Commands on the connection the test's stores use. */
  RedisClusterCommands<String, String> redisSync();

  String keyPrefix();

  private String touchedKey(java.time.Instant window, String suffix) {
    return keyPrefix() + ":{tw:" + window.toEpochMilli() + "}:" + suffix;
  }

  @Test
  default void failedMarking_failsTheApply_andTheRetryMarksWithoutCountingTwice() {
    RedisMeterStore store = exportStore(HOUR);
    UsageBatch batch = new UsageBatch("b1", List.of(ExportSourceContract.use("s1", "k1", W10, 1)));
    redisSync().set(touchedKey(W10, "touched"), "not a sorted set"); // ZADD now fails

    assertThatThrownBy(() -> store.apply(List.of(batch)))
        .as("usage applied but not marked must fail the apply, so the aggregator retries it")
        .isInstanceOf(MeterStoreException.class);
    assertThat(ExportSourceContract.calls(store, "s1", W10, W11)).isEqualTo(1);

    redisSync().del(touchedKey(W10, "touched"));
    store.apply(List.of(batch));

    assertThat(store.touched(W10)).extracting(TouchedKey::subscriptionId).containsExactly("s1");
    assertThat(ExportSourceContract.calls(store, "s1", W10, W11))
        .as("the retry's scripts add nothing")
        .isEqualTo(1);
  }

  /**
   * Seven days of one-minute windows are 10,080 windows: the exporter must find the marked ones
   * without asking Redis about each. The index lists marked windows only, and a window whose
   * marks were all cleared leaves it.
   */
  @Test
  default void oneMinuteWindows_overSevenDays_areFoundThroughTheIndex_andClearedWindowsLeaveIt() {
    RedisMeterStore store = exportStore(Duration.ofMinutes(1));
    java.time.Instant now = W10.plus(Duration.ofDays(7));
    java.time.Instant early = W10.plusSeconds(60);
    java.time.Instant middle = W10.plus(Duration.ofDays(3)).plusSeconds(17 * 60);
    java.time.Instant late = now.minusSeconds(120);
    store.apply(List.of(new UsageBatch("b1", List.of(ExportSourceContract.use("s1", "k1", early, 1),
        ExportSourceContract.use("s2", "k1", middle, 2), ExportSourceContract.use("s1", "k1", late, 3)))));
    String index = keyPrefix() + ":{tw-index}:windows";

    assertThat(store.touchedWindows(W10, now)).containsExactly(early, middle, late);
    assertThat(redisSync().zcard(index)).as("one index entry per marked window").isEqualTo(3);

    store.clearTouched(middle, store.touched(middle));

    assertThat(store.touchedWindows(W10, now)).containsExactly(early, late);
    assertThat(redisSync().zrange(index, 0, -1)).as("the cleared window left the index")
        .containsExactly(Long.toString(early.toEpochMilli()), Long.toString(late.toEpochMilli()));

    store.apply(List.of(new UsageBatch("late-replay", List.of(ExportSourceContract.use("s2", "k1", middle, 1)))));
    assertThat(store.touchedWindows(W10, now)).as("late usage indexes its window again")
        .containsExactly(early, middle, late);
  }

  @Test
  default void marks_expireAfterTheAppliedIdTtlPlusTheWindow() {
    RedisMeterStore store = exportStore(Duration.ofMinutes(5));
    store.apply(List.of(new UsageBatch("b1", List.of(ExportSourceContract.use("s1", "k1", W10, 1)))));

    long expected = Duration.ofDays(7).plusMinutes(5).toSeconds();
    for (String suffix : List.of("touched", "version")) {
      assertThat(redisSync().ttl(touchedKey(W10, suffix)))
          .as("a batch first applied up to appliedIdTtl late still finds its window's marks")
          .isBetween(expected - 60, expected);
    }
  }
}
