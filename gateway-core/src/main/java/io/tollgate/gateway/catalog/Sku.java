package io.tollgate.gateway.catalog;

import io.tollgate.billing.BillingMode;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A purchasable variant of a product.
 *
 * @param attributes enum attributes, name to allowed values (e.g. {@code modelVersion})
 * @param models the model names a buyer may ask for; empty means any
 * @param prices the prices in force now (the history is kept by the repository)
 * @param quota package quota per period, in tokens or calls by mode; null for pay-as-you-go
 * @param period MONTH or YEAR (packages, PERIOD); null for pay-as-you-go without expiry
 * @param rpm requests per minute per subscription, null for no limit
 * @param tpm tokens per minute per subscription, null for no limit
 * @param quantities quantity attributes, name to allowed range
 */
public record Sku(
    String id,
    String productId,
    String name,
    Map<String, List<String>> attributes,
    List<String> models,
    BillingMode mode,
    Prices prices,
    Long quota,
    Period period,
    Integer rpm,
    Integer tpm,
    Map<String, QuantityRange> quantities,
    Instant createdAt) {

  /** An inclusive range of a quantity attribute. */
  public record QuantityRange(long min, long max) {
    public QuantityRange {
      if (min < 0 || max < min) {
        throw new IllegalArgumentException("quantity range needs 0 <= min <= max: " + min + ".." + max);
      }
    }
  }

  public Sku {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(productId, "productId");
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(prices, "prices");
    attributes = attributes == null ? Map.of() : Map.copyOf(attributes);
    models = models == null ? List.of() : List.copyOf(models);
    quantities = quantities == null ? Map.of() : Map.copyOf(quantities);
    if (mode.isPackage() && (quota == null || quota <= 0)) {
      throw new IllegalArgumentException(mode + " needs a positive quota");
    }
    if (mode.paidAtPurchase() && period == null) {
      throw new IllegalArgumentException(mode + " needs a period");
    }
    if (rpm != null && rpm <= 0 || tpm != null && tpm <= 0) {
      throw new IllegalArgumentException("rpm and tpm must be positive when set");
    }
  }

  /** Whether a buyer of this SKU may call {@code model}. */
  public boolean allowsModel(String model) {
    return models.isEmpty() || models.contains(model);
  }
}
