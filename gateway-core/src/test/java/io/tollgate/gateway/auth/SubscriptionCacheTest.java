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
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The buyer port's key cache, with a fake ticker and loads run in place. */
class SubscriptionCacheTest {

  final AtomicLong nanos = new AtomicLong();
  final Ticker ticker = nanos::get;
  final Map<String, SubscriptionSnapshot> db = new ConcurrentHashMap<>();
  final AtomicInteger loads = new AtomicInteger();
  final AtomicBoolean dbDown = new AtomicBoolean();
  final SubscriptionCache cache = new SubscriptionCache(hash -> {
    loads.incrementAndGet();
    if (dbDown.get()) {
      throw new IllegalStateException("catalog unreachable");
    }
    return Optional.ofNullable(db.get(hash));
  }, Runnable::run, Duration.ofSeconds(60), ticker);

  static SubscriptionSnapshot snapshot(SubscriptionStatus status) {
    return snapshot("s1", "p1", status);
  }

  static SubscriptionSnapshot snapshot(String subscriptionId, String productId, SubscriptionStatus status) {
    Instant now = Instant.parse("2026-11-24T00:00:00Z");
    Product p = new Product(productId, "m1", "P", Protocol.OPENAI,
        List.of(new Endpoint("http://127.0.0.1:1", 1, null)), null, null, null, null, null, null, null, now);
    Sku sku = new Sku("k-" + productId, productId, "payg", null, null, BillingMode.PER_CALL,
        new Prices(now, "USD", null, null, BigDecimal.ONE, null), null, null, null, null, null, now);
    return new SubscriptionSnapshot(
        new Subscription(subscriptionId, sku.id(), "b-" + subscriptionId, null, status, false, now, now, null, null),
        sku, p);
  }

  /** Keys h1 (s1, p1), h2 (s2, p1), h3 (s3, p2) and the unknown key "nope", all cached. */
  void cacheThreeBuyersAndAnUnknownKey() {
    db.put("h1", snapshot("s1", "p1", SubscriptionStatus.ACTIVE));
    db.put("h2", snapshot("s2", "p1", SubscriptionStatus.ACTIVE));
    db.put("h3", snapshot("s3", "p2", SubscriptionStatus.ACTIVE));
    for (String key : List.of("h1", "h2", "h3", "nope")) {
      cache.lookup(key).join();
    }
    assertThat(loads).hasValue(4);
  }

  void lookUpAll() {
    for (String key : List.of("h1", "h2", "h3", "nope")) {
      cache.lookup(key).join();
    }
  }

  SubscriptionStatus status(String key) {
    return cache.lookup(key).join().orElseThrow().subscription().status();
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

  @Test
  void subscriptionChange_reloadsThatSubscriptionsKeyOnly() {
    cacheThreeBuyersAndAnUnknownKey();
    db.put("h1", snapshot("s1", "p1", SubscriptionStatus.SUSPENDED));
    db.put("h2", snapshot("s2", "p1", SubscriptionStatus.SUSPENDED)); // not announced: must stay cached

    cache.invalidate(CatalogChange.subscription("s1"));
    lookUpAll();

    assertThat(status("h1")).as("the suspension takes effect on the next call").isEqualTo(SubscriptionStatus.SUSPENDED);
    assertThat(status("h2")).as("another buyer's key keeps its snapshot").isEqualTo(SubscriptionStatus.ACTIVE);
    assertThat(loads).as("only s1's key is read again; the unknown key neither").hasValue(5);
  }

  @Test
  void rotatedKey_goesWithItsSubscription_andTheNewKeyIsServed() {
    cacheThreeBuyersAndAnUnknownKey();
    db.put("h1b", snapshot("s1", "p1", SubscriptionStatus.ACTIVE));
    cache.lookup("h1b").join(); // the new key in use while the old one is still cached
    db.remove("h1");

    cache.invalidate(CatalogChange.subscription("s1"));

    assertThat(cache.lookup("h1").join()).as("the rotated-away key is refused from the next call on").isEmpty();
    assertThat(cache.lookup("h1b").join()).isPresent();
    lookUpAll();
    assertThat(loads).as("both of s1's keys are read again, nothing else").hasValue(7);
  }

  @Test
  void productChange_reloadsThatProductsKeysOnly() {
    cacheThreeBuyersAndAnUnknownKey();
    db.put("h3", snapshot("s3", "p2", SubscriptionStatus.CANCELLED)); // not announced

    cache.invalidate(CatalogChange.product("p1"));
    lookUpAll();

    assertThat(loads).as("h1 and h2 (product p1) are read again; h3 (p2) and the unknown key are not").hasValue(6);
    assertThat(status("h3")).isEqualTo(SubscriptionStatus.ACTIVE);
  }

  @Test
  void emptyChange_dropsNothing() {
    cacheThreeBuyersAndAnUnknownKey();
    cache.invalidate(CatalogChange.NONE);
    cache.invalidate(CatalogChange.subscription("s-unknown"));
    cache.invalidate(CatalogChange.product("p-unknown"));
    lookUpAll();
    assertThat(loads).hasValue(4);
  }

  @Test
  void keyBeingReadWhenAChangeArrives_isReadAgain() throws Exception {
    db.put("h1", snapshot(SubscriptionStatus.ACTIVE));
    CountDownLatch read = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    var pool = Executors.newSingleThreadExecutor();
    try {
      SubscriptionCache slow = new SubscriptionCache(hash -> {
        Optional<SubscriptionSnapshot> found = Optional.ofNullable(db.get(hash));
        if (first.getAndSet(false)) {
          read.countDown(); // read before the suspension commits, answers after it is announced
          try {
            release.await();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        }
        return found;
      }, pool, Duration.ofSeconds(60), ticker);
      var loading = slow.lookup("h1");
      read.await();
      db.put("h1", snapshot(SubscriptionStatus.SUSPENDED));
      slow.invalidate(CatalogChange.subscription("s1"));
      release.countDown();
      assertThat(loading.get(5, TimeUnit.SECONDS).orElseThrow().subscription().status())
          .isEqualTo(SubscriptionStatus.ACTIVE);

      assertThat(slow.lookup("h1").get(5, TimeUnit.SECONDS).orElseThrow().subscription().status())
          .as("a read that began before the change is not kept").isEqualTo(SubscriptionStatus.SUSPENDED);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void refreshAll_catalogDown_keepsEverySnapshot() {
    cacheThreeBuyersAndAnUnknownKey();
    dbDown.set(true);

    assertThat(cache.refreshAll()).isDone();

    assertThat(loads).as("each known key was tried; the unknown one was not").hasValue(7);
    for (String key : List.of("h1", "h2", "h3")) {
      assertThat(cache.lookup(key)).as("%s is answered from memory", key).isDone();
      assertThat(cache.lookup(key).join()).as("%s keeps its snapshot", key).isPresent();
    }
    assertThat(loads).hasValue(7);
    assertThat(cache.size()).isEqualTo(4);
  }

  @Test
  void refreshAll_picksUpWhatChangedUnannounced() {
    cacheThreeBuyersAndAnUnknownKey();
    db.put("h2", snapshot("s2", "p1", SubscriptionStatus.SUSPENDED));

    cache.refreshAll().join();

    assertThat(loads).hasValue(7);
    assertThat(status("h2")).isEqualTo(SubscriptionStatus.SUSPENDED);
    assertThat(loads).as("refreshed in place, not dropped").hasValue(7);
  }

  @Test
  void refreshAll_overManyKeys_keepsAtMostTwoReadsInFlight() throws Exception {
    var pool = Executors.newFixedThreadPool(4);
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    try {
      SubscriptionCache c = new SubscriptionCache(hash -> {
        int now = inFlight.incrementAndGet();
        most.accumulateAndGet(now, Math::max);
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        } finally {
          inFlight.decrementAndGet();
        }
        return Optional.of(snapshot("s-" + hash, "p1", SubscriptionStatus.ACTIVE));
      }, pool, Duration.ofSeconds(60), ticker);
      for (int i = 0; i < 200; i++) {
        c.lookup("k" + i).join();
      }
      most.set(0);
      c.refreshAll().get(30, TimeUnit.SECONDS);
      assertThat(most.get()).as("a pass leaves the other loader threads to new keys")
          .isBetween(1, SubscriptionCache.REFRESHES_IN_FLIGHT);
      assertThat(c.size()).isEqualTo(200);
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * A change arrives while a key's catalog read is under way: the read is dropped, the next call
   * loads the key again, and that newer load is cached first; the dropped read ends after it and
   * indexes the key after it did. Its removal, told when it ends, must not take the key out of the
   * index while the newer snapshot is cached, or a suspension of the subscription would miss it
   * (found once by the concurrent test below in a CI run under load).
   */
  @Test
  void aDroppedReadThatEndsLast_leavesTheNewerLoadFindable() throws Exception {
    CountDownLatch firstReading = new CountDownLatch(1);
    CountDownLatch releaseFirst = new CountDownLatch(1);
    AtomicInteger reads = new AtomicInteger();
    ForkJoinPool pool = new ForkJoinPool(4);
    try {
      SubscriptionCache c = new SubscriptionCache(hash -> {
        if (reads.incrementAndGet() == 1) {
          firstReading.countDown();
          try {
            releaseFirst.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        return Optional.ofNullable(db.get(hash));
      }, pool, Duration.ofSeconds(60), ticker);
      db.put("k", snapshot("s1", "p1", SubscriptionStatus.ACTIVE));
      var dropped = c.lookup("k");
      assertThat(firstReading.await(10, TimeUnit.SECONDS)).isTrue();
      c.invalidate(CatalogChange.subscription("s2")); // another buyer's change: k's read is under way
      assertThat(c.lookup("k").get(10, TimeUnit.SECONDS)).isPresent(); // the newer load, cached
      releaseFirst.countDown();
      dropped.get(10, TimeUnit.SECONDS);
      assertThat(pool.awaitQuiescence(10, TimeUnit.SECONDS)).isTrue(); // the dropped read's removal is told

      db.put("k", snapshot("s1", "p1", SubscriptionStatus.SUSPENDED));
      c.invalidate(CatalogChange.subscription("s1"));
      assertThat(c.lookup("k").get(10, TimeUnit.SECONDS).orElseThrow().subscription().status())
          .as("k's subscription was suspended and announced").isEqualTo(SubscriptionStatus.SUSPENDED);
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Loads, evictions (a cache of 20 for 60 keys in use), expiry, refreshes and changes at once,
   * in rounds; after each, every subscription is suspended and announced, and no key may still
   * answer ACTIVE, which it would if the index had lost it while it was cached.
   */
  @Test
  void subscriptionIndex_neverLosesACachedKey_underConcurrentLoadsEvictionsAndChanges() throws Exception {
    int keys = 60;
    int subscriptions = 25;
    int threads = 4;
    ForkJoinPool pool = new ForkJoinPool(4);
    var workers = Executors.newFixedThreadPool(threads);
    try {
      SubscriptionCache c = new SubscriptionCache(hash -> {
        long until = System.nanoTime() + 20_000; // a short read keeps the pool busy, so removals are told late
        while (System.nanoTime() < until) {
          Thread.onSpinWait();
        }
        return Optional.ofNullable(db.get(hash));
      }, pool, Duration.ofSeconds(60), ticker, null, 20);
      Set<String> all = new HashSet<>();
      for (int s = 0; s < subscriptions; s++) {
        all.add("s" + s);
      }
      for (int round = 0; round < 50; round++) {
        for (int i = 0; i < keys; i++) {
          int sub = i % subscriptions;
          db.put("k" + i, snapshot("s" + sub, "p" + (sub % 7), SubscriptionStatus.ACTIVE));
        }
        c.invalidateAll();
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          done.add(workers.submit(() -> {
            ThreadLocalRandom r = ThreadLocalRandom.current();
            start.await();
            for (int i = 0; i < 1_000; i++) {
              int op = r.nextInt(100);
              if (op < 85) {
                c.lookup("k" + r.nextInt(keys)).join();
              } else if (op < 95) {
                c.invalidate(CatalogChange.subscription("s" + r.nextInt(subscriptions)));
              } else if (op < 98) {
                nanos.addAndGet(Duration.ofSeconds(r.nextInt(1, 40)).toNanos()); // refreshes and expiry
              } else if (op < 99) {
                c.invalidate(CatalogChange.product("p" + r.nextInt(7)));
              } else {
                c.refreshAll();
              }
            }
            return null;
          }));
        }
        for (var f : done) {
          f.get(120, TimeUnit.SECONDS);
        }
        assertThat(pool.awaitQuiescence(30, TimeUnit.SECONDS)).isTrue();

        db.replaceAll((k, snap) -> snapshot(snap.subscription().id(), snap.product().id(), SubscriptionStatus.SUSPENDED));
        c.invalidate(new CatalogChange(all, Set.of()));
        for (int i = 0; i < keys; i++) {
          assertThat(c.lookup("k" + i).get(10, TimeUnit.SECONDS).orElseThrow().subscription()
              .status()).as("round %d: k%d was cached but not found through its subscription", round, i)
              .isEqualTo(SubscriptionStatus.SUSPENDED);
        }
      }
    } finally {
      workers.shutdownNow();
      pool.shutdownNow();
    }
  }
}
