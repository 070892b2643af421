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
