package io.tollgate.gateway.catalog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ListingRulesTest {

  static final Instant NOW = Instant.parse("2025-03-01T00:00:00Z");
  static final Instant EARLIER = NOW.minus(Duration.ofDays(30));

  static Listing in(ListingStatus s) {
    return new Listing(s, null, null);
  }

  static CatalogException refusal(Runnable r) {
    try {
      r.run();
    } catch (CatalogException e) {
      return e;
    }
    throw new AssertionError("not refused");
  }

  @Test
  void everyActionApplies_exactlyFromItsStatuses() {
    Map<ListingAction, EnumSet<ListingStatus>> allowed = Map.of(
        ListingAction.SUBMIT, EnumSet.of(ListingStatus.DRAFT, ListingStatus.DELISTED),
        ListingAction.APPROVE, EnumSet.of(ListingStatus.PENDING_REVIEW),
        ListingAction.REJECT, EnumSet.of(ListingStatus.PENDING_REVIEW),
        ListingAction.DELIST, EnumSet.of(ListingStatus.LISTED));
    Map<ListingAction, ListingStatus> to = Map.of(
        ListingAction.SUBMIT, ListingStatus.PENDING_REVIEW,
        ListingAction.APPROVE, ListingStatus.LISTED,
        ListingAction.REJECT, ListingStatus.DRAFT,
        ListingAction.DELIST, ListingStatus.DELISTED);
    for (ListingAction action : ListingAction.values()) {
      for (ListingStatus from : ListingStatus.values()) {
        if (allowed.get(action).contains(from)) {
          assertThat(ListingRules.next("p", in(from), action, "why", NOW).status())
              .as(action + " from " + from).isEqualTo(to.get(action));
        } else {
          CatalogException e = refusal(() -> ListingRules.next("p", in(from), action, "why", NOW));
          assertThat(e.kind()).isEqualTo(CatalogException.Kind.CONFLICT);
          assertThat(e.code()).as(action + " from " + from).isEqualTo(CatalogException.INVALID_TRANSITION);
          assertThat(e.getMessage()).contains(from.wireName()).contains(action.wireName());
        }
      }
    }
  }

  @Test
  void approval_stampsTheFirstListingOnce_andClearsTheReviewNote() {
    Listing first = ListingRules.next("p", new Listing(ListingStatus.PENDING_REVIEW, "fix the name", null),
        ListingAction.APPROVE, null, NOW);
    Listing again = ListingRules.next("p", new Listing(ListingStatus.PENDING_REVIEW, "support_unresponsive", EARLIER),
        ListingAction.APPROVE, null, NOW);

    assertThat(first).isEqualTo(new Listing(ListingStatus.LISTED, null, NOW));
    assertThat(again).as("listed before: the first listing's time stays")
        .isEqualTo(new Listing(ListingStatus.LISTED, null, EARLIER));
  }

  @Test
  void rejectionAndDelisting_keepTheReason_andSubmittingKeepsItForTheReviewer() {
    Listing rejected = ListingRules.next("p", in(ListingStatus.PENDING_REVIEW), ListingAction.REJECT, "no SKU models",
        NOW);
    Listing delisted = ListingRules.next("p", new Listing(ListingStatus.LISTED, null, EARLIER), ListingAction.DELIST,
        "counterfeit", NOW);
    Listing resubmitted = ListingRules.next("p", delisted, ListingAction.SUBMIT, null, NOW);

    assertThat(rejected).isEqualTo(new Listing(ListingStatus.DRAFT, "no SKU models", null));
    assertThat(delisted).isEqualTo(new Listing(ListingStatus.DELISTED, "counterfeit", EARLIER));
    assertThat(resubmitted).isEqualTo(new Listing(ListingStatus.PENDING_REVIEW, "counterfeit", EARLIER));
  }

  @Test
  void submitting_needsASku_andBothPartsOfTheSupportContact_namingWhatIsMissing() {
    ListingRules.requireComplete("p", 1, new SupportContact("+1 555 0100", "s@acme.example"));

    CatalogException nothing = refusal(() -> ListingRules.requireComplete("p", 0, SupportContact.NONE));
    CatalogException noEmail = refusal(() -> ListingRules.requireComplete("p", 2, new SupportContact("+1 555 0100",
        null)));

    assertThat(nothing.code()).isEqualTo(CatalogException.LISTING_INCOMPLETE);
    assertThat(nothing.getMessage()).contains("SKU", "supportPhone", "supportEmail");
    assertThat(noEmail.getMessage()).contains("supportEmail").doesNotContain("SKU").doesNotContain("supportPhone");
  }

  @Test
  void buyersBuyOnlyListedProducts_testSubscriptionsEverythingButDelisted() {
    for (ListingStatus s : ListingStatus.values()) {
      Product p = product(s);
      if (s == ListingStatus.LISTED) {
        ListingRules.requireBuyable(p, /* test= */ false);
      } else {
        assertThat(refusal(() -> ListingRules.requireBuyable(p, /* test= */ false)).code())
            .as("buyer, " + s).isEqualTo(CatalogException.PRODUCT_NOT_LISTED);
      }
      if (s == ListingStatus.DELISTED) {
        assertThat(refusal(() -> ListingRules.requireBuyable(p, /* test= */ true)).code())
            .isEqualTo(CatalogException.PRODUCT_NOT_LISTED);
      } else {
        ListingRules.requireBuyable(p, /* test= */ true);
      }
    }
  }

  @Test
  void skusFreeze_atTheFirstListingOrTheFirstBuyer_whicheverComesFirst() {
    assertThat(ListingRules.skusFrozen(Listing.DRAFT, /* hasBuyers= */ false)).isFalse();
    assertThat(ListingRules.skusFrozen(new Listing(ListingStatus.PENDING_REVIEW, null, null), false)).isFalse();
    assertThat(ListingRules.skusFrozen(Listing.DRAFT, /* hasBuyers= */ true)).isTrue();
    assertThat(ListingRules.skusFrozen(new Listing(ListingStatus.DELISTED, "x", EARLIER), false))
        .as("a delisting does not thaw what buyers bought").isTrue();
  }

  @Test
  void supportFailures_delistAListedProduct_atTheThreshold_only() {
    Listing listed = new Listing(ListingStatus.LISTED, null, EARLIER);

    assertThat(ListingRules.afterSupportFailure(listed, 2, 3)).isSameAs(listed);
    assertThat(ListingRules.afterSupportFailure(listed, 3, 3))
        .isEqualTo(new Listing(ListingStatus.DELISTED, ListingRules.SUPPORT_UNRESPONSIVE, EARLIER));
    assertThat(ListingRules.afterSupportFailure(listed, 4, 3).status()).isEqualTo(ListingStatus.DELISTED);
    for (ListingStatus s : List.of(ListingStatus.DRAFT, ListingStatus.PENDING_REVIEW, ListingStatus.DELISTED)) {
      assertThat(ListingRules.afterSupportFailure(in(s), 5, 3)).as(s + ": left to the review").isEqualTo(in(s));
    }
  }

  static Product product(ListingStatus s) {
    return new Product("p", "m", "n", Protocol.OPENAI, List.of(new Endpoint("http://127.0.0.1:1", 1, Map.of())),
        null, null, null, null, null, null, null, NOW, in(s));
  }
}
