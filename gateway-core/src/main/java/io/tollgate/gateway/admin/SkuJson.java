package io.tollgate.gateway.admin;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tollgate.billing.BillingMode;
import io.tollgate.gateway.catalog.Period;
import io.tollgate.gateway.catalog.Prices;
import io.tollgate.gateway.catalog.Sku;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * SKUs and prices on the wire. Money is a decimal string with a currency, never a JSON number;
 * only the prices the billing mode uses may be given: PER_TOKEN {@code inputPricePerMillion} and
 * {@code outputPricePerMillion} (and optionally {@code cachedInputPricePerMillion}, the price of
 * input tokens read from the upstream's prompt cache; absent, they cost the input price), PER_CALL
 * {@code pricePerCall}, the packages {@code price}, {@code quota} (tokens or calls) and {@code
 * period}; PERIOD (licence products) {@code price} per {@code period}.
 */
final class SkuJson {

  private static final Set<String> FIELDS =
      Set.of("name", "attributes", "models", "billing", "limits", "quantities",
          // read-only fields of a GET, accepted (and ignored) so a GET body can be PUT back
          "id", "object", "productId", "createdAt");
  private static final Set<String> BILLING_FIELDS =
      Set.of("mode", "currency", "inputPricePerMillion", "cachedInputPricePerMillion",
          "outputPricePerMillion", "pricePerCall", "price", "quota", "period", "effectiveFrom");
  private static final Set<String> LIMIT_FIELDS = Set.of("rpm", "tpm");
  private static final Set<String> RANGE_FIELDS = Set.of("min", "max");
  private static final Pattern CURRENCY = Pattern.compile("[A-Z]{3}");

  private SkuJson() {}

  /** Reads a SKU body; its prices take effect at {@code now}. */
  static Sku parse(JsonInput in, String id, String productId, Instant createdAt, Instant now) {
    in.allowOnly(FIELDS);
    String name = in.requiredText("name");
    if (name.length() > 200) {
      throw ApiError.invalid("name must be at most 200 characters");
    }

    Map<String, List<String>> attributes = new LinkedHashMap<>();
    JsonInput attrs = in.optionalObject("attributes");
    if (attrs != null) {
      for (String attr : attrs.fieldNames()) {
        List<String> values = attrs.optionalStrings(attr);
        if (values == null || values.isEmpty()) {
          throw ApiError.invalid(attrs.path(attr) + " must list at least one allowed value");
        }
        attributes.put(attr, values);
      }
    }
    List<String> models = in.optionalStrings("models");

    JsonInput billing = in.requiredObject("billing");
    billing.allowOnly(BILLING_FIELDS);
    String modeName = billing.requiredText("mode");
    BillingMode mode;
    try {
      mode = BillingMode.valueOf(modeName.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw ApiError.invalid(
          billing.path("mode") + " must be one of PER_TOKEN, PER_CALL, TOKEN_PACKAGE, CALL_PACKAGE, PERIOD");
    }
    String currency = billing.requiredText("currency");
    if (!CURRENCY.matcher(currency).matches()) {
      throw ApiError.invalid(billing.path("currency") + " must be an ISO 4217 code such as USD");
    }
    BigDecimal input = priceFor(billing, "inputPricePerMillion", mode == BillingMode.PER_TOKEN, mode);
    // Optional: absent (or null) means cached input costs the input price, and stays so when the
    // input price changes, so a GET never shows it unless it was set.
    BigDecimal cachedInput = mode == BillingMode.PER_TOKEN
        ? billing.optionalMoney("cachedInputPricePerMillion")
        : priceFor(billing, "cachedInputPricePerMillion", false, mode);
    BigDecimal output = priceFor(billing, "outputPricePerMillion", mode == BillingMode.PER_TOKEN, mode);
    BigDecimal perCall = priceFor(billing, "pricePerCall", mode == BillingMode.PER_CALL, mode);
    BigDecimal price = priceFor(billing, "price", mode.paidAtPurchase(), mode);
    Long quota = billing.optionalPositiveLong("quota");
    String periodName = billing.optionalText("period");
    Period period = null;
    if (mode.isPackage()) {
      if (quota == null) {
        throw ApiError.invalid(billing.path("quota") + " is required for " + mode + " (" + (mode.countsTokens() ? "tokens" : "calls") + " per period)");
      }
      if (periodName == null) {
        throw ApiError.invalid(billing.path("period") + " is required for " + mode + " (MONTH or YEAR)");
      }
      try {
        period = Period.valueOf(periodName.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw ApiError.invalid(billing.path("period") + " must be MONTH or YEAR");
      }
    } else if (quota != null) {
      throw ApiError.invalid(billing.path("quota") + " applies only to TOKEN_PACKAGE and CALL_PACKAGE");
    } else if (mode == BillingMode.PERIOD) {
      // a licence: the price per period; seats come from the quantities chosen at purchase
      if (periodName == null) {
        throw ApiError.invalid(billing.path("period") + " is required for PERIOD (MONTH or YEAR)");
      }
      try {
        period = Period.valueOf(periodName.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw ApiError.invalid(billing.path("period") + " must be MONTH or YEAR");
      }
    } else if (periodName != null) {
      throw ApiError.invalid(billing.path("period") + " applies only to TOKEN_PACKAGE, CALL_PACKAGE and PERIOD");
    }

    Integer rpm = null;
    Integer tpm = null;
    JsonInput limits = in.optionalObject("limits");
    if (limits != null) {
      limits.allowOnly(LIMIT_FIELDS);
      rpm = limits.optionalPositiveInt("rpm");
      tpm = limits.optionalPositiveInt("tpm");
    }

    var quantities = new LinkedHashMap<String, Sku.QuantityRange>();
    JsonInput qs = in.optionalObject("quantities");
    if (qs != null) {
      for (String q : qs.fieldNames()) {
        JsonInput range = qs.requiredObject(q);
        range.allowOnly(RANGE_FIELDS);
        long min = range.requiredNonNegativeLong("min");
        long max = range.requiredNonNegativeLong("max");
        if (max < min) {
          throw ApiError.invalid(range.path("max") + " must not be less than min");
        }
        quantities.put(q, new Sku.QuantityRange(min, max));
      }
    }

    var prices = new Prices(now, currency, input, cachedInput, output, perCall, price);
    return new Sku(id, productId, name, attributes, models, mode, prices, quota, period, rpm, tpm,
        quantities, createdAt);
  }

  private static BigDecimal priceFor(JsonInput billing, String field, boolean used, BillingMode mode) {
    if (used) {
      return billing.requiredMoney(field);
    }
    if (billing.has(field)) {
      throw ApiError.invalid(billing.path(field) + " does not apply to " + mode);
    }
    return null;
  }

  static ObjectNode render(Sku s) {
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("id", s.id());
    o.put("object", "sku");
    o.put("productId", s.productId());
    o.put("name", s.name());
    ObjectNode attrs = o.putObject("attributes");
    s.attributes().forEach((k, v) -> v.forEach(attrs.putArray(k)::add));
    var models = o.putArray("models");
    s.models().forEach(models::add);
    ObjectNode billing = o.putObject("billing");
    billing.put("mode", s.mode().name());
    putPrices(billing, s.prices());
    if (s.quota() != null) {
      billing.put("quota", s.quota());
    }
    if (s.period() != null) {
      billing.put("period", s.period().name());
    }
    ObjectNode limits = o.putObject("limits");
    putNullable(limits, "rpm", s.rpm());
    putNullable(limits, "tpm", s.tpm());
    ObjectNode qs = o.putObject("quantities");
    s.quantities().forEach((k, r) -> qs.putObject(k).put("min", r.min()).put("max", r.max()));
    o.put("createdAt", s.createdAt() == null ? null : s.createdAt().toString());
    return o;
  }

  /** One entry of a price history: the prices and the moment they took effect. */
  static ObjectNode renderPrices(Prices p) {
    ObjectNode o = JsonInput.JSON.createObjectNode();
    o.put("object", "sku.prices");
    putPrices(o, p);
    return o;
  }

  private static void putPrices(ObjectNode o, Prices p) {
    o.put("currency", p.currency());
    putMoney(o, "inputPricePerMillion", p.inputPricePerMillion());
    putMoney(o, "cachedInputPricePerMillion", p.cachedInputPricePerMillion());
    putMoney(o, "outputPricePerMillion", p.outputPricePerMillion());
    putMoney(o, "pricePerCall", p.pricePerCall());
    putMoney(o, "price", p.price());
    o.put("effectiveFrom", p.effectiveFrom().toString());
  }

  private static void putMoney(ObjectNode o, String field, BigDecimal v) {
    if (v != null) {
      o.put(field, v.toPlainString());
    }
  }

  private static void putNullable(ObjectNode o, String field, Integer v) {
    if (v == null) {
      o.putNull(field);
    } else {
      o.put(field, v);
    }
  }
}
