package io.tollgate.metering.testing;

import io.tollgate.metering.store.UsageCounts;
import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Generates usage events and keeps the expected totals of the billable ones per subscription, so
 * a test can compare the store with what was recorded. Thread-safe.
 */
public final class Ledger {

  /** 2025-03-01T10:15:00Z */
  public static final long T0 = 1_740_824_100_000L;

  private final Map<String, UsageCounts> expected = new ConcurrentHashMap<>();
  private final int subscriptions;

  public Ledger(int subscriptions) {
    this.subscriptions = subscriptions;
  }

  /** A random event (about 1 in 8 not billable) ending within 5 minutes of {@link #T0}. */
  public UsageEvent next(Random rnd) {
    String sub = "sub-" + rnd.nextInt(subscriptions);
    long in = rnd.nextInt(2000);
    boolean estimated = rnd.nextInt(5) == 0;
    TokenUsage tokens = new TokenUsage(in, in == 0 ? 0 : rnd.nextLong(in + 1), rnd.nextInt(800), estimated);
    int kind = rnd.nextInt(8);
    int status = kind == 0 ? 502 : 200;
    UsageEvent.Outcome outcome = kind == 1 ? UsageEvent.Outcome.BUYER_ABORTED
        : kind == 0 ? UsageEvent.Outcome.UPSTREAM_FAILED : UsageEvent.Outcome.COMPLETED;
    return new UsageEvent(UUID.randomUUID(), sub, "sku-" + (sub.hashCode() & 1), "prod-1", "mer-1",
        "buyer-" + sub, T0 + rnd.nextInt(300_000), status, outcome, tokens, false);
  }

  /** Call after the recorder accepted {@code e}. */
  public void recorded(UsageEvent e) {
    if (!e.billable()) {
      return;
    }
    TokenUsage t = e.tokens();
    expected.merge(e.subscriptionId(), new UsageCounts(1, t.inputTokens(), t.cachedInputTokens(),
        t.outputTokens(), t.estimated() ? t.totalTokens() : 0), UsageCounts::plus);
  }

  public Map<String, UsageCounts> expected() {
    return Map.copyOf(expected);
  }
}
