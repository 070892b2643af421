package io.tollgate.gateway.account;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import java.time.Clock;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * What a subscription is entitled to: its usage in the current period and what is left of its
 * quota. The one answer to "usage and remaining" for the admin API and the buyer's {@code GET
 * /v1/subscription} alike.
 *
 * <p>{@code remaining} comes from where admission takes quota (the quota pool and this instance's
 * lease, see {@code CallMetering#remaining}), so what a buyer is shown left is what the gateway
 * will still admit; usage (calls, tokens, amount) comes from the meter store. Without a quota
 * source (an admin server run on its own), remaining is the quota less the metered usage.
 *
 * <p>Blocking (the meter store, the quota pool): call it on a worker thread.
 */
public final class Entitlements {

  /** What admission can still grant of a subscription's quota; empty where it enforces none. */
  @FunctionalInterface
  public interface QuotaRemaining {
    OptionalLong of(SubscriptionSnapshot snap);
  }

  /**
   * A subscription's usage in its current period and its quota's remainder (null without a
   * quota), in tokens or calls by its billing mode.
   */
  public record Entitlement(UsageView.Usage usage, Long remaining) {}

  private static final ObjectMapper JSON = new ObjectMapper();

  private final UsageView usage;
  private final QuotaRemaining remaining;
  private final Clock clock;

  /** @param remaining where admission takes quota; null to count it from metered usage */
  public Entitlements(UsageView usage, QuotaRemaining remaining, Clock clock) {
    this.usage = Objects.requireNonNull(usage, "usage");
    this.remaining = remaining;
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  public Entitlement of(SubscriptionSnapshot snap) {
    UsageView.Usage used = usage.usageOf(snap.subscription());
    Long quota = snap.subscription().quota();
    if (quota == null) {
      return new Entitlement(used, null);
    }
    OptionalLong left = remaining == null ? OptionalLong.empty() : remaining.of(snap);
    if (left.isPresent()) {
      return new Entitlement(used, left.getAsLong());
    }
    long spent = snap.sku().mode().countsTokens() ? used.totalTokens() : used.calls();
    return new Entitlement(used, Math.max(0, quota - spent));
  }

  /** The subscription as {@code GET /v1/subscription} and the admin API show it. */
  public byte[] subscriptionJson(SubscriptionSnapshot snap) {
    try {
      return JSON.writeValueAsBytes(SubscriptionJson.render(snap, of(snap), clock.instant()));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}
