package io.tollgate.gateway.catalog;

import java.util.Map;
import java.util.TreeMap;

/**
 * What a buyer must choose when buying a SKU, in one place (the rule of {@link
 * CatalogRepository#createSubscription}); a merchant's test subscription chooses the same way, and
 * no default is invented for a missing choice.
 *
 * <ul>
 *   <li>Every enum attribute of the SKU gets exactly one of its offered values.
 *   <li>Every quantity attribute of the SKU gets an integer within its range, and at least 1: a
 *       quantity multiplies the package, so 0 would buy nothing.
 *   <li>A name the SKU does not have is refused: a misspelt choice must not be silently dropped.
 *   <li>The product of the quantities ({@link #units}) must fit a long.
 * </ul>
 *
 * <p>Refusals are {@link IllegalArgumentException}s (the admin API's 400) whose message starts
 * with the field as sent: {@code attributes.edition}, {@code quantities.users}.
 */
final class ChoiceRules {

  private ChoiceRules() {}

  /** @throws IllegalArgumentException naming the first choice that is missing, unknown or out of range */
  static void check(Sku sku, PurchaseChoices choices) {
    for (String name : choices.attributes().keySet()) {
      if (!sku.attributes().containsKey(name)) {
        throw new IllegalArgumentException("attributes." + name + " is not an attribute of this SKU"
            + offered(sku.attributes()));
      }
    }
    for (var e : new TreeMap<>(sku.attributes()).entrySet()) {
      String chosen = choices.attributes().get(e.getKey());
      if (chosen == null) {
        throw new IllegalArgumentException("attributes." + e.getKey() + " is required: one of "
            + String.join(", ", e.getValue()));
      }
      if (!e.getValue().contains(chosen)) {
        throw new IllegalArgumentException("attributes." + e.getKey() + " must be one of "
            + String.join(", ", e.getValue()));
      }
    }
    for (String name : choices.quantities().keySet()) {
      if (!sku.quantities().containsKey(name)) {
        throw new IllegalArgumentException("quantities." + name + " is not a quantity of this SKU"
            + offered(sku.quantities()));
      }
    }
    for (var e : new TreeMap<>(sku.quantities()).entrySet()) {
      Long chosen = choices.quantities().get(e.getKey());
      long min = Math.max(1, e.getValue().min());
      long max = e.getValue().max();
      if (chosen == null) {
        throw new IllegalArgumentException("quantities." + e.getKey() + " is required: an integer from "
            + min + " to " + max);
      }
      if (chosen < min || chosen > max) {
        throw new IllegalArgumentException("quantities." + e.getKey() + " must be an integer from "
            + min + " to " + max);
      }
    }
    units(choices);
  }

  /**
   * The product of the chosen quantities: how many units of the package (its quota, its price)
   * were bought; 1 when the SKU has no quantity attributes.
   *
   * @throws IllegalArgumentException naming {@code quantities} when the product overflows
   */
  static long units(PurchaseChoices choices) {
    long units = 1;
    for (long q : choices.quantities().values()) {
      try {
        units = Math.multiplyExact(units, q);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("quantities: the product of the chosen quantities is too large");
      }
    }
    return units;
  }

  private static String offered(Map<String, ?> names) {
    return names.isEmpty() ? " (it has none)" : "; it has: " + String.join(", ", new TreeMap<>(names).keySet());
  }
}
