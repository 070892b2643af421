package io.tollgate.billing;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.metering.health.TaskHealth;
import io.tollgate.metering.store.JdbcMeterStore;
import io.tollgate.metering.store.UsageBatch;
import io.tollgate.metering.store.UsageCell;
import io.tollgate.metering.store.UsageCounts;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.h2.jdbcx.JdbcDataSource;

/**
 * For random usage, price changes inside windows, window sizes and late arrivals, the records a
 * subscription gets add up, exactly, to the sum over minutes of the price in force at that minute
 * times that minute's usage; package and test records total "0" while their quantities add up.
 * The whole export path runs: a real JDBC meter store with its marks, the exporter, the ledger
 * (H2). The expected amount is computed here independently: per minute, by division.
 */
class ExportPricingProperties {

  static final Instant T0 = Instant.parse("2026-03-02T10:00:00Z");
  static final BigDecimal MILLION = BigDecimal.valueOf(1_000_000);

  /** One minute's usage of one subscription, and which delivery (0 = before the first export) brings it. */
  record Use(int sub, int minute, long calls, long input, long cached, long output, int delivery) {}

  record Sub(BillingMode mode, boolean test) {}

  record Scenario(int windowMinutes, List<Sub> subs, List<PriceEntry> prices, List<Use> uses) {}

  @Provide
  Arbitrary<Scenario> scenarios() {
    Arbitrary<Integer> window = Arbitraries.of(1, 5, 60);
    Arbitrary<Sub> sub = Combinators.combine(Arbitraries.of(BillingMode.values()), Arbitraries.of(false, false, true))
        .as(Sub::new);
    Arbitrary<BigDecimal> price = Arbitraries.bigDecimals().between(BigDecimal.ZERO, new BigDecimal("99.999999"))
        .ofScale(6);
    Arbitrary<PriceEntry> entry = Combinators.combine(Arbitraries.integers().between(-3600, 3 * 3600), price, price,
        price, price, Arbitraries.of(true, false)).as((sec, in, cached, out, call, hasCached) ->
        new PriceEntry(T0.plusSeconds(sec), "USD", in, hasCached ? cached : null, out, call, new BigDecimal("10")));
    Arbitrary<List<PriceEntry>> history = entry.list().ofMinSize(1).ofMaxSize(4).map(ExportPricingProperties::ordered);
    return Combinators.combine(window, sub.list().ofMinSize(1).ofMaxSize(3), history).flatAs((w, subs, prices) -> {
      Arbitrary<Use> use = Combinators.combine(Arbitraries.integers().between(0, subs.size() - 1),
          Arbitraries.integers().between(0, 3 * w - 1), Arbitraries.longs().between(0, 50),
          Arbitraries.longs().between(0, 500_000), Arbitraries.longs().between(0, 1000),
          Arbitraries.longs().between(0, 200_000), Arbitraries.integers().between(0, 2))
          .as((s, m, calls, in, cached, out, d) -> new Use(s, m, calls, in, Math.min(cached, in), out, d));
      return use.list().ofMinSize(1).ofMaxSize(25).map(uses -> new Scenario(w, subs, prices, uses));
    });
  }

  /** Distinct, increasing effective times; the first in force from before any usage. */
  static List<PriceEntry> ordered(List<PriceEntry> raw) {
    List<PriceEntry> sorted = new ArrayList<>(raw);
    sorted.sort(Comparator.comparing(PriceEntry::effectiveFrom));
    List<PriceEntry> out = new ArrayList<>();
    for (PriceEntry e : sorted) {
      if (out.isEmpty()) {
        out.add(new PriceEntry(T0.minusSeconds(86_400), e.currency(), e.inputPricePerMillion(),
            e.cachedInputPricePerMillion(), e.outputPricePerMillion(), e.pricePerCall(), e.price()));
      } else if (e.effectiveFrom().isAfter(out.get(out.size() - 1).effectiveFrom())) {
        out.add(e);
      }
    }
    return out;
  }

  @Property(tries = 40)
  void recordsAddUpToPriceInForceTimesUsage_exactly(@ForAll("scenarios") Scenario s) {
    JdbcDataSource ds = new JdbcDataSource();
    ds.setURL("jdbc:h2:mem:" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1");
    Duration window = Duration.ofMinutes(s.windowMinutes());
    MovableClock clock = new MovableClock(T0);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    JdbcMeterStore store = new JdbcMeterStore(ds, "tg_", clock).withExportWindow(window).migrate();
    RecordLedger ledger = new RecordLedger(ds).migrate();
    Map<String, SkuTerms> terms = new HashMap<>();
    for (int i = 0; i < s.subs().size(); i++) {
      terms.put("sku-" + i, new SkuTerms("sku-" + i, s.subs().get(i).mode(), s.prices()));
    }
    Exporter exporter = new Exporter(Exporter.Config.of(window, Duration.ofMinutes(1)), store, terms::get, ledger,
        List.of(), alwaysHeld(), clock, new TaskHealth(clock, registry), registry);
    try {
      for (int delivery = 0; delivery <= 2; delivery++) {
        List<UsageCell> cells = new ArrayList<>();
        for (Use u : s.uses()) {
          if (u.delivery() == delivery) {
            Sub sub = s.subs().get(u.sub());
            cells.add(new UsageCell("sub-" + u.sub(), "sku-" + u.sub(), "prod-1", "mer-1", "buyer-" + u.sub(),
                sub.test(), T0.plusSeconds(60L * u.minute()).toEpochMilli(),
                new UsageCounts(u.calls(), u.input(), u.cached(), u.output(), 0)));
          }
        }
        if (!cells.isEmpty()) {
          store.apply(List.of(new UsageBatch("batch-" + delivery, cells)));
        }
        // every window of the scenario is due: later deliveries are late usage for exported windows
        clock.set(T0.plus(window.multipliedBy(3L * (delivery + 1))).plus(Duration.ofMinutes(2 + delivery)));
        exporter.runOnce();
      }
      List<UsageRecord> records = ledger.page(RecordQuery.all(1000)).records();
      for (int i = 0; i < s.subs().size(); i++) {
        String sub = "sub-" + i;
        Sub kind = s.subs().get(i);
        BigDecimal expected = BigDecimal.ZERO;
        UsageCounts used = UsageCounts.ZERO;
        for (Use u : s.uses()) {
          if (u.sub() == i) {
            Instant minute = T0.plusSeconds(60L * u.minute());
            used = used.plus(new UsageCounts(u.calls(), u.input(), u.cached(), u.output(), 0));
            expected = expected.add(expectedAmount(kind, inForce(s.prices(), minute), u));
          }
        }
        BigDecimal amount = BigDecimal.ZERO;
        UsageCounts exported = UsageCounts.ZERO;
        for (UsageRecord r : records) {
          if (r.subscriptionId().equals(sub)) {
            amount = amount.add(r.amount());
            exported = exported.plus(new UsageCounts(r.calls(), r.inputTokens(), r.cachedInputTokens(),
                r.outputTokens(), r.estimatedTokens()));
            if (kind.test() || kind.mode().isPackage()) {
              assertThat(r.amountText()).as("package and test records carry 0").isEqualTo("0");
            }
          }
        }
        assertThat(exported).as("%s: quantities of its records add up to its usage", sub).isEqualTo(used);
        assertThat(amount.compareTo(expected)).as("%s (%s): records total %s, expected %s", sub, kind,
            Pricing.plain(amount), Pricing.plain(expected)).isZero();
      }
    } finally {
      exporter.close();
    }
  }

  /** The entry in force at a minute's start, found by a plain scan. */
  static PriceEntry inForce(List<PriceEntry> prices, Instant minute) {
    PriceEntry in = null;
    for (PriceEntry p : prices) {
      if (!p.effectiveFrom().isAfter(minute)) {
        in = p;
      }
    }
    return in;
  }

  static BigDecimal expectedAmount(Sub sub, PriceEntry p, Use u) {
    if (sub.test() || sub.mode().isPackage()) {
      return BigDecimal.ZERO;
    }
    if (sub.mode() == BillingMode.PER_CALL) {
      return p.pricePerCall().multiply(BigDecimal.valueOf(u.calls()));
    }
    BigDecimal cachedPrice = p.cachedInputPricePerMillion() != null ? p.cachedInputPricePerMillion()
        : p.inputPricePerMillion();
    BigDecimal perMillion = p.inputPricePerMillion().multiply(BigDecimal.valueOf(u.input() - u.cached()))
        .add(cachedPrice.multiply(BigDecimal.valueOf(u.cached())))
        .add(p.outputPricePerMillion().multiply(BigDecimal.valueOf(u.output())));
    return perMillion.divide(MILLION);
  }

  static ExportLease alwaysHeld() {
    return new ExportLease() {
      @Override
      public boolean tryAcquire() {
        return true;
      }

      @Override
      public void close() {}
    };
  }
}
