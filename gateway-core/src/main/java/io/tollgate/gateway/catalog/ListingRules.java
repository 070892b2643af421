package io.tollgate.gateway.catalog;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The listing review and what it allows, in one place: the transitions of {@link
 * CatalogRepository#changeListing}, who may buy and renew, when SKUs freeze, and when missed
 * support replies delist a product. The repository applies each rule inside the transaction that
 * holds the product's row lock, so a delisting and a purchase of the same product are ordered: no
 * purchase commits after the delisting that should have refused it.
 *
 * <pre>
 *   draft ──submit──▶ pending_review ──approve──▶ listed ──delist──▶ delisted
 *     ▲                    │                                            │
 *     └──────reject────────┘            pending_review ◀──submit────────┘
 * </pre>
 *
 * <ul>
 *   <li>Submitting needs at least one SKU and the merchant's support phone and email.
 *   <li>A buyer (non-test) subscription is bought or renewed only while the product is listed. A
 *       merchant's test subscription is bought or renewed in every status but delisted, so a
 *       merchant can debug before listing. Subscriptions already bought keep working through a
 *       delisting until they end (the buyer port does not look at the status): the buyer paid.
 *   <li>From its first listing on, or from its first buyer subscription if that came first, a
 *       SKU's name, billing mode, currency, quota and period are frozen ({@link SkuRules}); a
 *       merchant's test subscriptions freeze nothing.
 *   <li>A listed product whose merchant missed {@link ListingPolicy#supportFailuresToDelist}
 *       support replies within {@link ListingPolicy#SUPPORT_FAILURE_WINDOW} is delisted with the
 *       note {@value #SUPPORT_UNRESPONSIVE}.
 * </ul>
 */
final class ListingRules {

  /** The review note of a product delisted for missed support replies. */
  static final String SUPPORT_UNRESPONSIVE = "support_unresponsive";

  private ListingRules() {}

  /**
   * The listing after {@code action} at {@code now}.
   *
   * @param note the operator's reason, for {@code reject} and {@code delist}; ignored otherwise
   * @throws CatalogException CONFLICT {@value CatalogException#INVALID_TRANSITION} when the action
   *     does not apply to the current status
   */
  static Listing next(String productId, Listing current, ListingAction action, String note, Instant now) {
    ListingStatus from = current.status();
    return switch (action) {
      case SUBMIT -> {
        require(from == ListingStatus.DRAFT || from == ListingStatus.DELISTED, productId, action, from,
            "a draft or delisted product");
        yield new Listing(ListingStatus.PENDING_REVIEW, current.reviewNote(), current.firstListedAt());
      }
      case APPROVE -> {
        require(from == ListingStatus.PENDING_REVIEW, productId, action, from, "a product pending review");
        yield new Listing(ListingStatus.LISTED, null, current.firstListedAt() != null ? current.firstListedAt() : now);
      }
      case REJECT -> {
        require(from == ListingStatus.PENDING_REVIEW, productId, action, from, "a product pending review");
        yield new Listing(ListingStatus.DRAFT, note, current.firstListedAt());
      }
      case DELIST -> {
        require(from == ListingStatus.LISTED, productId, action, from, "a listed product");
        yield new Listing(ListingStatus.DELISTED, note, current.firstListedAt());
      }
    };
  }

  private static void require(boolean allowed, String productId, ListingAction action, ListingStatus from,
      String appliesTo) {
    if (!allowed) {
      throw CatalogException.conflict(CatalogException.INVALID_TRANSITION,
          "product " + productId + " is " + from.wireName() + ": " + action.wireName() + " applies to " + appliesTo);
    }
  }

  /**
   * Refuses to submit a product that buyers could not be served or supported on.
   *
   * @throws CatalogException CONFLICT {@value CatalogException#LISTING_INCOMPLETE} naming every
   *     part missing: a SKU, the merchant's {@code supportPhone}, its {@code supportEmail}
   */
  static void requireComplete(String productId, int skus, SupportContact support) {
    List<String> missing = new ArrayList<>();
    if (skus == 0) {
      missing.add("at least one SKU");
    }
    for (String field : support.missing()) {
      missing.add("the merchant's " + field);
    }
    if (!missing.isEmpty()) {
      throw CatalogException.conflict(CatalogException.LISTING_INCOMPLETE,
          "product " + productId + " cannot be submitted for review without " + String.join(", ", missing));
    }
  }

  /**
   * Refuses a purchase, or a renewal, of a SKU of {@code product}.
   *
   * @throws CatalogException CONFLICT {@value CatalogException#PRODUCT_NOT_LISTED} for a buyer
   *     subscription of a product that is not listed, or a test subscription of a delisted one
   */
  static void requireBuyable(Product product, boolean test) {
    ListingStatus status = product.status();
    boolean allowed = test ? status != ListingStatus.DELISTED : status == ListingStatus.LISTED;
    if (!allowed) {
      throw CatalogException.conflict(CatalogException.PRODUCT_NOT_LISTED,
          "product " + product.id() + " is " + status.wireName() + ": "
              + (test ? "a delisted product takes no test subscriptions"
                  : "only a listed product can be bought or renewed"));
    }
  }

  /** Whether the SKUs of a product with {@code listing} are frozen, {@code hasBuyers} for the SKU at hand. */
  static boolean skusFrozen(Listing listing, boolean hasBuyers) {
    return listing.firstListedAt() != null || hasBuyers;
  }

  /**
   * The listing after a missed support reply, {@code failuresInWindow} of them (this one
   * included) within the window: delisted with {@value #SUPPORT_UNRESPONSIVE} if the product is
   * listed and they reach {@code toDelist}; otherwise unchanged. A product not listed is left to
   * the operator's review.
   */
  static Listing afterSupportFailure(Listing current, int failuresInWindow, int toDelist) {
    if (current.status() == ListingStatus.LISTED && failuresInWindow >= toDelist) {
      return new Listing(ListingStatus.DELISTED, SUPPORT_UNRESPONSIVE, current.firstListedAt());
    }
    return current;
  }
}
