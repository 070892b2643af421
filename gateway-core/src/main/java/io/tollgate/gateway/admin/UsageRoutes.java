package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.billing.Pricing;
import io.tollgate.gateway.admin.AdminHttp.Reply;
import io.tollgate.gateway.admin.AdminHttp.Request;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.metering.store.Granularity;
import io.tollgate.metering.store.UsageCounts;
import io.vertx.core.http.HttpMethod;
import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedSet;

/** {@code GET /admin/v1/usage}: metered usage over time, priced. */
final class UsageRoutes {

  private final CatalogRepository repo;
  private final Ownership own;
  private final UsageHistory usageHistory;
  private final Clock clock;

  UsageRoutes(CatalogRepository repo, Ownership own, UsageHistory usageHistory, Clock clock) {
    this.repo = repo;
    this.own = own;
    this.usageHistory = usageHistory;
    this.clock = clock;
  }

  void mount(AdminHttp http) {
    http.on(HttpMethod.GET, "/admin/v1/usage", this::usage);
  }

  private static final Duration DEFAULT_USAGE_RANGE = Duration.ofDays(1);
  private static final Duration MAX_MINUTE_RANGE = Duration.ofDays(7);

  /**
   * {@code GET /admin/v1/usage?subscriptionId=|skuId=|productId=|merchantId=&from=&to=&granularity=}:
   * at most one selector; without one, the operator reads the whole fleet, a merchant its own
   * merchant and a buyer its own subscription (a buyer's key may name only that); {@code to} defaults to now, {@code from} to a day before it;
   * granularity {@code minute}, {@code hour} (the default) or {@code day}. A merchant may ask only
   * about its own objects (another merchant's are 404). Every bucket and the total carry what the
   * usage costs (see {@link UsageAmounts}).
   */
  private Reply usage(Request r) {
    List<String> given = new ArrayList<>();
    for (String k : List.of("subscriptionId", "skuId", "productId", "merchantId")) {
      if (r.query().get(k) != null) {
        given.add(k);
      }
    }
    if (given.size() > 1) {
      throw ApiError.invalid("give at most one of subscriptionId, skuId, productId, merchantId");
    }
    String key;
    String id;
    if (!given.isEmpty()) {
      key = given.get(0);
      id = r.query().get(key);
    } else if (r.caller().isBuyer()) {
      key = "subscriptionId";
      id = r.caller().subscriptionId();
    } else if (!r.caller().isOperator()) {
      key = "merchantId";
      id = r.caller().merchantId();
    } else {
      key = null; // the operator's view of the whole fleet
      id = null;
    }
    if (r.caller().isBuyer() && !("subscriptionId".equals(key) && r.caller().subscriptionId().equals(id))) {
      throw ApiError.forbidden("a buyer's API key reads the usage of its own subscription only");
    }
    // What the query reads: one subscription, or the subscriptions of some SKUs.
    Subscription subscription = null;
    List<String> skuIds = null;
    switch (key == null ? "fleet" : key) {
      case "fleet" -> skuIds = repo.listAllSkuIds();
      case "subscriptionId" -> subscription = r.caller().isBuyer()
          ? repo.getSubscription(id).orElseThrow(() -> ApiError.notFound("subscription not found: " + id))
          : own.subscription(r.caller(), id).subscription();
      case "skuId" -> skuIds = List.of(own.sku(r.caller(), id).id());
      case "productId" -> skuIds = repo.listSkus(own.product(r.caller(), id).id()).stream().map(Sku::id).toList();
      default -> {
        if (!r.caller().owns(id)) {
          throw ApiError.notFound("merchant not found: " + id);
        }
        skuIds = repo.listSkuIdsOfMerchant(id);
      }
    }
    Instant to = r.instant("to", clock.instant());
    Instant from = r.instant("from", to.minus(DEFAULT_USAGE_RANGE));
    if (!from.isBefore(to)) {
      throw ApiError.invalid("from must be before to");
    }
    String g = r.query().getOrDefault("granularity", "hour");
    Granularity granularity;
    try {
      granularity = Granularity.valueOf(g.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw ApiError.invalid("granularity must be minute, hour or day");
    }
    if (granularity == Granularity.MINUTE && Duration.between(from, to).compareTo(MAX_MINUTE_RANGE) > 0) {
      throw ApiError.invalid("granularity minute allows a range of at most 7 days");
    }
    var amounts = new UsageAmounts(repo, repo.priceBook(), usageHistory);
    UsageAmounts.Result usage = subscription != null
        ? amounts.ofSubscription(subscription, from, to, granularity)
        : amounts.ofSkus(skuIds, from, to, granularity);
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("object", "list");
    if (key != null) {
      o.put(key, id);
    }
    o.put("from", from.toString());
    o.put("to", to.toString());
    o.put("granularity", granularity.name().toLowerCase(Locale.ROOT));
    var data = o.putArray("data");
    for (UsageAmounts.Row b : usage.buckets()) {
      ObjectNode row = counts(data.addObject(), b.counts());
      money(row, b.amounts(), usage.currencies());
      row.put("start", b.start().toString());
    }
    money(counts(o.putObject("total"), usage.total().counts()), usage.total().amounts(), usage.currencies());
    return Reply.ok(o);
  }

  /**
   * {@code amount} (a decimal string) and {@code currency}; where the query's amounts are in
   * several currencies, both are null and {@code amountsByCurrency} holds one amount per currency.
   */
  private static void money(ObjectNode o, Map<String, BigDecimal> amounts, SortedSet<String> currencies) {
    if (currencies.size() <= 1) {
      String currency = currencies.isEmpty() ? null : currencies.first();
      o.put("amount", Pricing.plain(currency == null ? BigDecimal.ZERO : amounts.getOrDefault(currency, BigDecimal.ZERO)));
      o.put("currency", currency);
      return;
    }
    o.putNull("amount");
    o.putNull("currency");
    ObjectNode by = o.putObject("amountsByCurrency");
    for (String c : currencies) {
      by.put(c, Pricing.plain(amounts.getOrDefault(c, BigDecimal.ZERO)));
    }
  }

  private static ObjectNode counts(ObjectNode o, UsageCounts c) {
    o.put("calls", c.calls());
    o.put("inputTokens", c.inputTokens());
    o.put("cachedInputTokens", c.cachedInputTokens());
    o.put("outputTokens", c.outputTokens());
    o.put("totalTokens", c.totalTokens());
    o.put("estimatedTokens", c.estimatedTokens());
    return o;
  }
}
