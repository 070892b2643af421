package io.tollgate.metering.journal;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.UUID;

/**
 * The process {@link JournalKillTest} kills: appends {@link #event(int) event(0), event(1), ...}
 * to a journal as fast as it can, rolling segments as the aggregator does, and prints how many
 * appends have returned every 1,000 of them, until it is killed.
 */
final class AppendingProcess {

  static final long SEGMENT_BYTES = 256 << 10;

  private AppendingProcess() {}

  /** The i-th event: a pure function of i, so the test knows what each append wrote. */
  static UsageEvent event(int i) {
    return new UsageEvent(new UUID(42, i), "sub_" + (i % 101), "sku_" + (i % 7), "prod_" + (i % 3),
        "mer_1", "buyer_" + (i % 101), 1_740_824_100_000L + i, 200, UsageEvent.Outcome.COMPLETED,
        new TokenUsage(100 + i % 4000, i % 30, i % 900, /* estimated= */ i % 9 == 0), /* test= */ false);
  }

  static UsageJournal.Config config() {
    return new UsageJournal.Config(Duration.ofMillis(10), SEGMENT_BYTES, 1L << 40);
  }

  public static void main(String[] args) {
    UsageJournal journal = UsageJournal.open(Path.of(args[0]), config(), Clock.systemUTC(),
        new SimpleMeterRegistry());
    Segment open = journal.newSegment();
    for (int i = 0; ; i++) {
      if (open.bytes() >= SEGMENT_BYTES) {
        Segment next = journal.rollSegment(); // as the aggregator rolls a full segment
        open.seal();
        open = next;
      }
      UsageEvent e = event(i);
      open.append(e, EncodedIds.of(e));
      if ((i + 1) % 1000 == 0) {
        System.out.println(i + 1);
        System.out.flush();
      }
    }
  }
}
