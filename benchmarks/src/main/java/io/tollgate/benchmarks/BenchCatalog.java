package io.tollgate.benchmarks;

import io.tollgate.billing.BillingMode;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Period;
import io.tollgate.gateway.catalog.Prices;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import io.tollgate.gateway.catalog.UpstreamAuth;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Catalog objects as the repository would load them, for the buyer-port benchmarks: an OpenAI
 * product signed with {@code aksk}, a token-package SKU with rpm/tpm limits, and active
 * subscriptions of it, each with its own ids.
 */
final class BenchCatalog {

  /** Today, so that subscriptions are within their period on the real clock the gateway reads. */
  static final Instant CREATED = Instant.now().truncatedTo(ChronoUnit.DAYS);
  static final String MODEL = "gpt-4.1-nano";

  private BenchCatalog() {}

  static Product product(int n) {
    return new Product("prod_bench" + n, "mer_bench" + (n % 4), "Bench model " + n, Protocol.OPENAI,
        List.of(new Endpoint("http://127.0.0.1:18080", 1, null)),
        new UpstreamAuth(UpstreamAuth.Type.AKSK, "ak-bench-" + n, "sk-bench-secret-" + n),
        null, null, null, null, null, null, CREATED);
  }

  /**
   * A TOKEN_PACKAGE SKU whose quota and limits a benchmark never reaches: the admitted path is the
   * one measured, limits set but not hit (rpm and tpm at {@code Integer.MAX_VALUE}).
   */
  static Sku packageSku(Product product) {
    return new Sku("sku_" + product.id(), product.id(), "package", null, List.of(MODEL, "gpt-4.1-mini"),
        BillingMode.TOKEN_PACKAGE,
        new Prices(CREATED, "USD", null, null, null, new BigDecimal("9.90")),
        1_000_000_000_000L, Period.MONTH, Integer.MAX_VALUE, Integer.MAX_VALUE, null, CREATED);
  }

  /** Subscription {@code i} of {@code sku}, active for a year from {@link #CREATED}. */
  static SubscriptionSnapshot subscription(int i, Sku sku, Product product) {
    Subscription s = new Subscription(String.format("sub_%020d", i), sku.id(), String.format("buyer_%016d", i),
        "Buyer " + i, SubscriptionStatus.ACTIVE, /* test= */ false, CREATED, CREATED,
        CREATED.plusSeconds(366L * 24 * 3600), sku.quota());
    return new SubscriptionSnapshot(s, sku, product);
  }

  /** A key in the gateway's format ({@code tg-} and 43 base64url characters), from a seeded random. */
  static String buyerKey(SplittableRandom random) {
    byte[] b = new byte[32];
    for (int i = 0; i < b.length; i += 8) {
      long r = random.nextLong();
      for (int j = 0; j < 8; j++) {
        b[i + j] = (byte) (r >>> (8 * j));
      }
    }
    return "tg-" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }
}
