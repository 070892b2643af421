package io.tollgate.gateway.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.benmanes.caffeine.cache.Ticker;
import io.tollgate.billing.BillingMode;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Prices;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The buyer port's key cache, with a fake ticker and loads run in place. */
class SubscriptionCacheTest {

  final AtomicLong nanos = new AtomicLong();
  final Ticker ticker = nanos::get;
  final Map<String, SubscriptionSnapshot> db = new ConcurrentHashMap<>();
  final AtomicInteger loads = new AtomicInteger();
  final java.util.concurrent.atomic.AtomicBoolean dbDown = new java.util.concurrent.atomic.AtomicBoolean();
  final SubscriptionCache cache = new SubscriptionCache(hash -> {
    loads.incrementAndGet();
    if (dbDown.get()) {
      throw new IllegalStateException("catalog unreachable");
    }
    return Optional.ofNullable(db.get(hash));
  }, Runnable::run, Duration.ofSeconds(60), ticker);

  static SubscriptionSnapshot snapshot(SubscriptionStatus status) {
    Instant now = Instant.parse("2026-11-24T00:00:00Z");
    Product p = new Product("p1", "m1", "P", Protocol.OPENAI, List.of(new Endpoint("http://127.0.0.1:1", 1, null)),
        null, null, null, null, null, null, null, now);
    Sku sku = new Sku("k1", "p1", "payg", null, null, BillingMode.PER_CALL,
        new Prices(now, "USD", null, null, java.math.BigDecimal.ONE, null), null, null, null, null, null, now);
    return new SubscriptionSnapshot(new Subscription("s1", "k1", "b1", null, status, false, now, now, null, null), sku, p);
  }

  @Test
  void hit_isAnsweredFromMemory_withoutALoad() {
    db.put("h1", snapshot(SubscriptionStatus.ACTIVE));
    assertThat(cache.lookup("h1").join()).isPresent();
    assertThat(cache.lookup("h1")).as("a hit is an already completed future").isDone();
    assertThat(loads).hasValue(1);
  }

  @Test
  void unknownKey_isCachedToo_soAFloodOfWrongKeysCostsOneRead() {
    for (int i = 0; i < 100; i++) {
      assertThat(cache.lookup("nope").join()).isEmpty();
    }
    assertThat(loads).hasValue(1);
  }

  @Test
  void invalidateAll_makesTheNextLookupSeeTheChange() {
    db.put("h1", snapshot(SubscriptionStatus.ACTIVE));
    cache.lookup("h1").join();
    db.put("h1", snapshot(SubscriptionStatus.SUSPENDED));
    assertThat(cache.lookup("h1").join().orElseThrow().subscription().status()).isEqualTo(SubscriptionStatus.ACTIVE);

    cache.invalidateAll();

    assertThat(cache.lookup("h1").join().orElseThrow().subscription().status())
        .as("an admin change takes effect on the next call").isEqualTo(SubscriptionStatus.SUSPENDED);
  }

  @Test
  void busyKey_isRefreshedAtHalfItsAge_andExpiresAtItsAge() {
    db.put("h1", snapshot(SubscriptionStatus.ACTIVE));
    cache.lookup("h1").join();
    nanos.addAndGet(Duration.ofSeconds(31).toNanos());
    db.put("h1", snapshot(SubscriptionStatus.CANCELLED));

    cache.lookup("h1").join(); // serves the old entry and triggers the refresh (run in place here)

    assertThat(loads).as("refreshed in the background after half the age").hasValue(2);
    assertThat(cache.lookup("h1").join().orElseThrow().subscription().status()).isEqualTo(SubscriptionStatus.CANCELLED);

    db.put("h1", snapshot(SubscriptionStatus.SUSPENDED));
    nanos.addAndGet(Duration.ofSeconds(61).toNanos());
    assertThat(cache.lookup("h1").join().orElseThrow().subscription().status())
        .as("never older than maxAge, even if an invalidation was lost").isEqualTo(SubscriptionStatus.SUSPENDED);
  }

  @Test
  void catalogDown_aKeyInUseKeepsItsLastSnapshot_pastMaxAge_andIsRefreshedWhenItIsBack() {
    db.put("h1", snapshot(SubscriptionStatus.ACTIVE));
    cache.lookup("h1").join();
    dbDown.set(true);
    for (int i = 0; i < 6; i++) { // three minutes of calls every 31 s, three times maxAge
      nanos.addAndGet(Duration.ofSeconds(31).toNanos());
      assertThat(cache.lookup("h1").join()).as("served from the last snapshot at %d s", (i + 1) * 31).isPresent();
    }
    assertThat(loads.get()).as("each refresh was tried, and failed").isGreaterThan(3);

    dbDown.set(false);
    db.put("h1", snapshot(SubscriptionStatus.SUSPENDED));
    nanos.addAndGet(Duration.ofSeconds(31).toNanos());
    cache.lookup("h1").join(); // the refresh that succeeds
    assertThat(cache.lookup("h1").join().orElseThrow().subscription().status()).isEqualTo(SubscriptionStatus.SUSPENDED);
  }

  @Test
  void catalogDown_aKeyNotSeenForMaxAge_cannotBeLoaded() {
    db.put("h1", snapshot(SubscriptionStatus.ACTIVE));
    cache.lookup("h1").join();
    dbDown.set(true);
    nanos.addAndGet(Duration.ofSeconds(61).toNanos());
    assertThat(cache.lookup("h1")).as("expired, and the load fails").isCompletedExceptionally();
  }
}
