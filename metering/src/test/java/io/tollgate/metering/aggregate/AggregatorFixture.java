package io.tollgate.metering.aggregate;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.metering.journal.UsageJournal;
import io.tollgate.metering.store.MeterStore;
import io.tollgate.metering.store.UsageCounts;
import io.tollgate.metering.testing.Ledger;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

final class AggregatorFixture {

  static final Instant FROM = Instant.ofEpochMilli(Ledger.T0).minusSeconds(3600);
  static final Instant TO = Instant.ofEpochMilli(Ledger.T0).plusSeconds(3600);

  private AggregatorFixture() {}

  static UsageAggregator start(Path dir, MeterStore store, SimpleMeterRegistry registry) {
    UsageJournal journal = UsageJournal.open(dir,
        new UsageJournal.Config(Duration.ofMillis(50), 1 << 20, 1L << 30), Clock.systemUTC(),
        registry);
    return UsageAggregator.start(journal, store,
        new UsageAggregator.Config(Duration.ofMillis(20), 4, Duration.ofMillis(400),
            Duration.ofSeconds(20)),
        Clock.systemUTC(), registry);
  }

  static void assertStoreMatches(MeterStore store, Ledger ledger, int subscriptions) {
    Map<String, UsageCounts> actual = new HashMap<>();
    for (int i = 0; i < subscriptions; i++) {
      UsageCounts t = store.totals("sub-" + i, FROM, TO);
      if (!t.isZero()) {
        actual.put("sub-" + i, t);
      }
    }
    assertThat(actual)
        .as("store totals must equal the billable events recorded, each counted exactly once")
        .isEqualTo(ledger.expected());
  }
}
