package io.tollgate.gateway.account;

import io.tollgate.billing.PriceBook;
import io.tollgate.billing.Pricing;
import io.tollgate.gateway.admin.UsageHistory;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.metering.store.MinuteUsage;
import io.tollgate.metering.store.Granularity;
import io.tollgate.metering.store.UsageBucket;
import io.tollgate.metering.store.UsageCounts;
import io.tollgate.metering.store.UsageSelector;
import java.math.BigDecimal;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Objects;

/**
 * What a subscription has used in its current period (since {@link Subscription#periodStart()}),
 * shown by the admin API next to its quota. Metering supplies the real one ({@link #metered});
 * {@link #NONE} reports zeros.
 *
 * <p>Called on a worker thread, so an implementation may block (a Redis or JDBC read).
 */
@FunctionalInterface
public interface UsageView {

  /** Reports no usage: the default until metering is wired in. */
  UsageView NONE = subscription -> Usage.ZERO;

  Usage usageOf(Subscription subscription);

  /**
   * The usage the meter store ({@code history}) holds for a subscription's current period, and
   * what it costs, priced per minute with the exporter's {@link Pricing} so that the view and the
   * usage records agree. The store counts per minute, so the period is read from the minute it
   * started in: usage of a previous period in that same minute (a renewal within a minute of a
   * call) counts in the new one. Blocking.
   */
  static UsageView metered(UsageHistory history, PriceBook prices, Clock clock) {
    Objects.requireNonNull(history, "history");
    Objects.requireNonNull(prices, "prices");
    Objects.requireNonNull(clock, "clock");
    return s -> {
      List<UsageBucket> minutes = history.usage(UsageSelector.subscription(s.id()),
          s.periodStart().truncatedTo(ChronoUnit.MINUTES), clock.instant().plusSeconds(60), Granularity.MINUTE);
      UsageCounts c = UsageCounts.ZERO;
      for (UsageBucket b : minutes) {
        c = c.plus(b.counts());
      }
      BigDecimal amount = Pricing.amount(prices.terms(s.skuId()), s.test(), minutes.stream().map(b -> new MinuteUsage(b.start().toEpochMilli(), b.counts())).toList());
      return new Usage(c.calls(), c.inputTokens(), c.outputTokens(), amount);
    };
  }

  /**
   * Calls and tokens counted for a subscription, and what they cost in the SKU's currency (0 for
   * packages, paid at purchase, and for test subscriptions); never negative.
   */
  record Usage(long calls, long inputTokens, long outputTokens, BigDecimal amount) {
    public static final Usage ZERO = new Usage(0, 0, 0);

    public Usage {
      Objects.requireNonNull(amount, "amount");
      if (calls < 0 || inputTokens < 0 || outputTokens < 0 || amount.signum() < 0) {
        throw new IllegalArgumentException(
            "usage must not be negative: " + calls + ", " + inputTokens + ", " + outputTokens + ", " + amount);
      }
    }

    /** Usage that costs nothing. */
    public Usage(long calls, long inputTokens, long outputTokens) {
      this(calls, inputTokens, outputTokens, BigDecimal.ZERO);
    }

    public long totalTokens() {
      return inputTokens + outputTokens;
    }
  }
}
