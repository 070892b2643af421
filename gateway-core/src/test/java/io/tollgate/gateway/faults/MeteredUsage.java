package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.faults.BuyerLoad.Buyer;
import io.tollgate.gateway.faults.BuyerLoad.Totals;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/** The invariant these tests check: metered usage equals what the buyers received, per subscription. */
final class MeteredUsage {

  private MeteredUsage() {}

  /**
   * Waits (at most 20 s: flushes retry, the journal replays) until every subscription's metered
   * calls and tokens equal what its buyer received, then checks they are still equal a second
   * later, so a late retried flush that counts twice fails the test too.
   */
  static void assertEqualsReceived(AdminClient admin, BuyerLoad load, List<Buyer> buyers) throws Exception {
    assertEqualsReceived(admin, List.of(load), buyers);
  }

  /** As {@link #assertEqualsReceived(AdminClient, BuyerLoad, List)}, for buyers whose calls several loads made. */
  static void assertEqualsReceived(AdminClient admin, List<BuyerLoad> loads, List<Buyer> buyers) throws Exception {
    try {
      Awaitility.await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
          .ignoreExceptions()
          .until(() -> metered(admin, buyers).equals(received(loads, buyers)));
    } catch (ConditionTimeoutException e) {
      // fall through: the assertion below prints both sides
    }
    assertSame(admin, loads, buyers, "after the faults, metered usage must equal what the buyers received");
    Thread.sleep(1000);
    assertSame(admin, loads, buyers, "a second later (no late retried flush may count twice)");
  }

  private static void assertSame(AdminClient admin, List<BuyerLoad> loads, List<Buyer> buyers, String why)
      throws Exception {
    Map<String, Totals> metered = metered(admin, buyers);
    Map<String, Totals> received = received(loads, buyers);
    for (Buyer b : buyers) {
      assertThat(metered.get(b.subscriptionId()))
          .as("%s: subscription %s (%s) metered %s, buyers received %s; loads %s; calls cut off"
                  + " (if metered > received, is one of these the journal-then-die race?): %s",
              why, b.subscriptionId(), b.api(), metered.get(b.subscriptionId()), received.get(b.subscriptionId()),
              loads, loads.stream().flatMap(l -> l.cutOffCalls().stream()).toList())
          .isEqualTo(received.get(b.subscriptionId()));
    }
  }

  static Map<String, Totals> metered(AdminClient admin, List<Buyer> buyers) throws Exception {
    Map<String, Totals> m = new LinkedHashMap<>();
    for (Buyer b : buyers) {
      m.put(b.subscriptionId(), admin.metered(b.subscriptionId()));
    }
    return m;
  }

  static Map<String, Totals> received(BuyerLoad load, List<Buyer> buyers) {
    return received(List.of(load), buyers);
  }

  /** What each subscription's buyers received, over all of {@code loads}. */
  static Map<String, Totals> received(List<BuyerLoad> loads, List<Buyer> buyers) {
    Map<String, Totals> m = new LinkedHashMap<>();
    for (Buyer b : buyers) {
      Totals sum = Totals.ZERO;
      for (BuyerLoad l : loads) {
        Totals t = l.receivedBy(b.subscriptionId());
        sum = new Totals(sum.calls() + t.calls(), sum.inputTokens() + t.inputTokens(),
            sum.outputTokens() + t.outputTokens());
      }
      m.put(b.subscriptionId(), sum);
    }
    return m;
  }
}
