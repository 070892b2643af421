package io.tollgate.gateway.catalog;

import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What a buyer chose when buying a SKU: one value per enum attribute ({@code "edition":"pro"}) and
 * a count per quantity attribute ({@code "users":3}). Kept on the subscription; {@link
 * ChoiceRules} checks them against the SKU, and their product multiplies a package's quota and the
 * purchase's quantity. Names are kept sorted, so the stored and rendered forms are stable.
 *
 * @param attributes attribute name to the chosen value
 * @param quantities quantity name to the chosen count
 */
public record PurchaseChoices(Map<String, String> attributes, Map<String, Long> quantities) {

  /** Nothing chosen: for SKUs without attributes or quantities. */
  public static final PurchaseChoices NONE = new PurchaseChoices(Map.of(), Map.of());

  public PurchaseChoices {
    attributes = sorted(attributes);
    quantities = sorted(quantities);
  }

  private static <V> Map<String, V> sorted(Map<String, V> m) {
    if (m == null || m.isEmpty()) {
      return Map.of();
    }
    var copy = new TreeMap<String, V>();
    m.forEach((k, v) -> copy.put(Objects.requireNonNull(k, "name"), Objects.requireNonNull(v, k)));
    return Collections.unmodifiableMap(copy);
  }
}
