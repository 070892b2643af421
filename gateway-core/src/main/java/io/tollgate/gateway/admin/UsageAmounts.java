package io.tollgate.gateway.admin;

import io.tollgate.billing.PriceBook;
import io.tollgate.billing.Pricing;
import io.tollgate.billing.SkuTerms;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.metering.store.Granularity;
import io.tollgate.metering.store.MeterStore;
import io.tollgate.metering.store.MinuteUsage;
import io.tollgate.metering.store.UsageBucket;
import io.tollgate.metering.store.UsageCounts;
import io.tollgate.metering.store.UsageSelector;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Usage with its money for {@code GET /admin/v1/usage}, priced exactly as the exporter prices
 * usage records: {@link Pricing#amount} over per-minute usage, each SKU with its own terms from
 * the price book, so that this view and the records agree to the last decimal.
 *
 * <ul>
 *   <li>A subscription: its minutes, priced with its SKU's terms; test subscriptions and packages
 *       cost 0.
 *   <li>A SKU, product or merchant: per SKU, its minutes less those of its test subscriptions
 *       (which cost 0), priced, then summed over the SKUs. Pricing is linear within a minute, so
 *       pricing a SKU's minute equals summing the priced minutes of its subscriptions (what the
 *       records add up to), exactly.
 *   <li>Counts are summed from the same per-minute reads as the amounts, so both come from one
 *       look at the store; they include test usage, as they always did.
 *   <li>Currency: a SKU's amounts are in the currency of its latest prices. It cannot change once
 *       the SKU has a non-test subscription, so all of a SKU's billable usage is in it. Amounts in
 *       different currencies are never added: a query whose SKUs with usage (or, without usage,
 *       whose SKUs) use several currencies gets one sum per currency.
 * </ul>
 *
 * <p>Blocking (meter store and catalog reads): call it on a worker thread.
 */
final class UsageAmounts {

  /**
   * One bucket: its counts and its amount per currency.
   *
   * @param start null for the total
   */
  record Row(Instant start, UsageCounts counts, Map<String, BigDecimal> amounts) {}

  /**
   * A query's buckets (oldest first, only those with usage) and total.
   *
   * @param currencies the currencies of the query's amounts; zero or one for a single amount
   */
  record Result(List<Row> buckets, Row total, SortedSet<String> currencies) {}

  private final CatalogRepository repo;
  private final PriceBook prices;
  private final UsageHistory history;

  UsageAmounts(CatalogRepository repo, PriceBook prices, UsageHistory history) {
    this.repo = repo;
    this.prices = prices;
    this.history = history;
  }

  /** Minute buckets (as {@link Granularity#MINUTE} queries return them) as pricing reads them. */
  static List<MinuteUsage> minutes(List<UsageBucket> minuteBuckets) {
    var out = new ArrayList<MinuteUsage>(minuteBuckets.size());
    for (UsageBucket b : minuteBuckets) {
      out.add(new MinuteUsage(b.start().toEpochMilli(), b.counts()));
    }
    return out;
  }

  /** A subscription's usage in {@code [from, to)}. */
  Result ofSubscription(Subscription s, Instant from, Instant to, Granularity granularity) {
    List<UsageBucket> minutes = history.usage(UsageSelector.subscription(s.id()), from, to, Granularity.MINUTE);
    var sum = new Sum(granularity);
    sum.add(prices.terms(s.skuId()), minutes, minutes, s.test());
    return sum.result();
  }

  /** The usage of the subscriptions of {@code skuIds} in {@code [from, to)}. */
  Result ofSkus(List<String> skuIds, Instant from, Instant to, Granularity granularity) {
    var tests = new HashMap<String, List<String>>();
    for (Subscription t : repo.listTestSubscriptions(skuIds, from)) {
      tests.computeIfAbsent(t.skuId(), k -> new ArrayList<>()).add(t.id());
    }
    var sum = new Sum(granularity);
    for (String skuId : skuIds) {
      List<UsageBucket> minutes = history.usage(UsageSelector.sku(skuId), from, to, Granularity.MINUTE);
      if (minutes.isEmpty()) {
        continue;
      }
      List<UsageBucket> billable = minutes;
      for (String testId : tests.getOrDefault(skuId, List.of())) {
        billable = minus(billable, history.usage(UsageSelector.subscription(testId), from, to, Granularity.MINUTE));
      }
      sum.add(prices.terms(skuId), minutes, billable, /* test= */ false);
    }
    if (sum.currencies.isEmpty()) {
      for (String skuId : skuIds) {
        sum.currencies.add(currencyOf(prices.terms(skuId)));
      }
    }
    return sum.result();
  }

  private static String currencyOf(SkuTerms terms) {
    return terms.history().get(terms.history().size() - 1).currency();
  }

  /**
   * {@code all} less {@code part}, minute by minute. Each field stops at 0: {@code part} is
   * contained in {@code all}, and only a batch half applied while the two were read (a Redis batch
   * spans hash slots) could make it look larger.
   */
  private static List<UsageBucket> minus(List<UsageBucket> all, List<UsageBucket> part) {
    if (part.isEmpty()) {
      return all;
    }
    var byMinute = new HashMap<Instant, UsageCounts>();
    for (UsageBucket b : part) {
      byMinute.put(b.start(), b.counts());
    }
    var out = new ArrayList<UsageBucket>(all.size());
    for (UsageBucket b : all) {
      UsageCounts p = byMinute.get(b.start());
      if (p == null) {
        out.add(b);
        continue;
      }
      UsageCounts a = b.counts();
      var rest = new UsageCounts(
          Math.max(0, a.calls() - p.calls()),
          Math.max(0, a.inputTokens() - p.inputTokens()),
          Math.max(0, a.cachedInputTokens() - p.cachedInputTokens()),
          Math.max(0, a.outputTokens() - p.outputTokens()),
          Math.max(0, a.estimatedTokens() - p.estimatedTokens()));
      if (!rest.isZero()) {
        out.add(new UsageBucket(b.start(), rest));
      }
    }
    return out;
  }

  /** Sums counts and amounts into buckets of one granularity. */
  private static final class Sum {
    final Granularity granularity;
    final Map<Long, UsageCounts> perMinute = new HashMap<>();
    final Map<Long, Map<String, BigDecimal>> amounts = new HashMap<>();
    final Map<String, BigDecimal> total = new TreeMap<>();
    final SortedSet<String> currencies = new TreeSet<>();

    Sum(Granularity granularity) {
      this.granularity = granularity;
    }

    /**
     * Counts {@code minutes} of one SKU and prices {@code billable} (the part of them that is
     * charged for) bucket by bucket.
     */
    void add(SkuTerms terms, List<UsageBucket> minutes, List<UsageBucket> billable, boolean test) {
      String currency = currencyOf(terms);
      currencies.add(currency);
      for (UsageBucket b : minutes) {
        perMinute.merge(b.start().toEpochMilli(), b.counts(), UsageCounts::plus);
      }
      var byBucket = new TreeMap<Long, List<MinuteUsage>>();
      for (MinuteUsage m : minutes(billable)) {
        byBucket.computeIfAbsent(granularity.bucketStart(m.minuteStart()), k -> new ArrayList<>()).add(m);
      }
      byBucket.forEach((bucket, bucketMinutes) -> {
        BigDecimal amount = Pricing.amount(terms, test, bucketMinutes);
        amounts.computeIfAbsent(bucket, k -> new HashMap<>()).merge(currency, amount, BigDecimal::add);
        total.merge(currency, amount, BigDecimal::add);
      });
    }

    Result result() {
      var rows = new ArrayList<Row>();
      UsageCounts totalCounts = UsageCounts.ZERO;
      for (UsageBucket b : MeterStore.buckets(perMinute, granularity)) {
        rows.add(new Row(b.start(), b.counts(), amounts.getOrDefault(b.start().toEpochMilli(), Map.of())));
        totalCounts = totalCounts.plus(b.counts());
      }
      return new Result(rows, new Row(null, totalCounts, total), currencies);
    }
  }
}
