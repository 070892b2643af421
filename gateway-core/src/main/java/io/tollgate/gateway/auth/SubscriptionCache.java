package io.tollgate.gateway.auth;

import com.github.benmanes.caffeine.cache.AsyncCacheLoader;
import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.github.benmanes.caffeine.cache.Ticker;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.metering.health.TaskHealth;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

/**
 * API key hash to subscription snapshot, the buyer port's only catalog read.
 *
 * <p>A hit is a completed future, answered on the event loop with no allocation beyond Caffeine's
 * lookup; a miss loads from the repository on {@code loadExecutor} (JDBC never runs on an event
 * loop) and the caller resumes on its own loop. Unknown keys are cached too (as empty), so a flood
 * of wrong keys costs one database read per distinct key and expiry period, not one per request.
 *
 * <p>Freshness: every admin write that affects buyers names the subscriptions or products it
 * changed ({@link CatalogChange}), and every instance drops the snapshots naming them (locally,
 * and over Redis pub/sub when Redis is configured), so a suspended, cancelled or rotated-away key
 * is refused from the next call on while other buyers' keys stay cached. {@code maxAge} bounds
 * staleness if a change notice is ever lost; defaults to 60 s. An entry still in use is refreshed
 * in the background after half that, so a busy key does not wait on the database every {@code
 * maxAge}.
 *
 * <p>Finding what a change names: a subscription's keys come from an index (subscription id to
 * key hashes), since suspensions may come in bulk and a scan of 200,000 cached keys took 20 ms on
 * a busy 2-core machine; a product's keys come from such a scan, since product edits are rare and
 * a product may have most of the keys. The index covers every cached snapshot under
 * concurrency: a load indexes its key, with the very snapshot instance it read, before that
 * snapshot becomes visible, and a removal unindexes the key only if the index still holds the
 * removed instance and the key is not cached again, so a removal that is told late cannot unindex
 * a newer load of the same key.
 * A key whose catalog read is under way when a change arrives is dropped whatever it names, since
 * it may have read the catalog before the change committed.
 *
 * <p>Outages: when that background refresh fails (the catalog database is down), the entry keeps
 * its last snapshot and its age starts again, so keys in use go on being served for as long as the
 * outage lasts, as Kong serves from its cache; nothing could change a subscription meanwhile, since
 * the admin API needs the same database, and expiry is checked against the clock on every call. A
 * key not seen for {@code maxAge} is loaded again, and during an outage that load fails. {@link
 * #refreshAll()} (after missing change notices) refreshes the same way, so it never empties the
 * cache either.
 *
 * <p>Every load and background refresh reports to {@link TaskHealth} as task {@value #TASK} (on
 * demand, no deadline), so an outage that the cache hides from buyers still shows in {@code
 * /health/ready} and in metrics.
 */
public final class SubscriptionCache {

  /** Loads' and refreshes' name in {@link TaskHealth}. */
  public static final String TASK = "subscription-cache";

  /** Keys kept by default. */
  public static final long DEFAULT_MAXIMUM_SIZE = 200_000;

  /**
   * Refreshes one {@link #refreshAll()} pass keeps in flight: misses share the load executor with
   * it, so a pass over 200,000 keys must not queue ahead of a new buyer's first call.
   */
  static final int REFRESHES_IN_FLIGHT = 2;

  private final AsyncLoadingCache<String, Optional<SubscriptionSnapshot>> cache;
  private final LongAdder loads = new LongAdder();
  /**
   * Subscription id to its key hashes that may be cached (two while a rotated key is), each with
   * the snapshot instance its last load read; see the class comment.
   */
  private final ConcurrentHashMap<String, Map<String, Optional<SubscriptionSnapshot>>> keysBySubscription =
      new ConcurrentHashMap<>();
  /** Keys whose catalog read is under way, with how many reads; see the class comment. */
  private final ConcurrentHashMap<String, Integer> reading = new ConcurrentHashMap<>();
  private final AtomicReference<RefreshPass> refreshing = new AtomicReference<>();

  public SubscriptionCache(
      Function<String, Optional<SubscriptionSnapshot>> loader, Executor loadExecutor, Duration maxAge, Ticker ticker) {
    this(loader, loadExecutor, maxAge, ticker, null);
  }

  /** @param health receives every load's outcome; null for none */
  public SubscriptionCache(Function<String, Optional<SubscriptionSnapshot>> loader, Executor loadExecutor,
      Duration maxAge, Ticker ticker, TaskHealth health) {
    this(loader, loadExecutor, maxAge, ticker, health, DEFAULT_MAXIMUM_SIZE);
  }

  /**
   * @param health receives every load's outcome; null for none
   * @param maximumSize keys kept at most; the least used beyond it are evicted and load again
   */
  public SubscriptionCache(Function<String, Optional<SubscriptionSnapshot>> loader, Executor loadExecutor,
      Duration maxAge, Ticker ticker, TaskHealth health, long maximumSize) {
    TaskHealth.Task task = health == null ? null : health.task(TASK, null);
    Duration age = maxAge == null ? Duration.ofSeconds(60) : maxAge;
    this.cache = Caffeine.newBuilder()
        .maximumSize(maximumSize)
        .expireAfterWrite(age)
        // A key in use is reloaded in the background at half its age, so its calls never wait
        // for the database when the entry would expire.
        .refreshAfterWrite(age.dividedBy(2))
        .ticker(ticker == null ? Ticker.systemTicker() : ticker)
        .executor(loadExecutor)
        .removalListener((String keyHash, Optional<SubscriptionSnapshot> removed, RemovalCause cause) -> {
          // REPLACED: refreshed, and still cached (a failed refresh keeps the same instance).
          if (cause != RemovalCause.REPLACED && removed != null && removed.isPresent()) {
            unindex(removed.get().subscription().id(), keyHash, removed);
          }
        })
        .buildAsync(new AsyncCacheLoader<String, Optional<SubscriptionSnapshot>>() {
          @Override
          public CompletableFuture<Optional<SubscriptionSnapshot>> asyncLoad(String keyHash, Executor executor) {
            return CompletableFuture.supplyAsync(() -> {
              Optional<SubscriptionSnapshot> found;
              loads.increment();
              reading.merge(keyHash, 1, Integer::sum);
              try {
                found = loader.apply(keyHash);
                if (found.isPresent()) {
                  found = Optional.of(found.get()); // an instance of this load's own: see the index
                  // Before the snapshot is visible, so that no change can miss it.
                  index(found.get().subscription().id(), keyHash, found);
                }
              } catch (RuntimeException e) {
                if (task != null) {
                  task.failed(e, TaskHealth.Cause.DEPENDENCY);
                }
                throw e;
              } finally {
                reading.computeIfPresent(keyHash, (k, n) -> n == 1 ? null : n - 1);
              }
              if (task != null) {
                task.succeeded();
              }
              return found;
            }, executor);
          }

          @Override
          public CompletableFuture<Optional<SubscriptionSnapshot>> asyncReload(
              String keyHash, Optional<SubscriptionSnapshot> last, Executor executor) {
            return asyncLoad(keyHash, executor).exceptionally(unreachable -> last);
          }
        });
  }

  /** The snapshot for a key's SHA-256 hex; usually already complete. */
  public CompletableFuture<Optional<SubscriptionSnapshot>> lookup(String keyHash) {
    return cache.get(keyHash);
  }

  /** Drops every snapshot; the next call of each key reloads it. */
  public void invalidateAll() {
    cache.synchronous().invalidateAll();
  }

  /**
   * Drops the snapshots of the subscriptions and products {@code change} names, and every key
   * whose catalog read is under way; the next call of each such key reloads it. Other keys stay
   * cached, and so do unknown keys (a change cannot make an unissued key valid). A rotated-away key
   * goes with its subscription.
   */
  public void invalidate(CatalogChange change) {
    if (change.isEmpty()) {
      return;
    }
    for (String subscriptionId : change.subscriptionIds()) {
      for (String keyHash : keysBySubscription.getOrDefault(subscriptionId, Map.of()).keySet()) {
        cache.synchronous().invalidate(keyHash);
      }
    }
    for (String keyHash : reading.keySet()) {
      cache.synchronous().invalidate(keyHash);
    }
    if (change.productIds().isEmpty()) {
      return;
    }
    ConcurrentMap<String, CompletableFuture<Optional<SubscriptionSnapshot>>> map = cache.asMap();
    map.forEach((keyHash, f) -> {
      if (!f.isDone()) {
        map.remove(keyHash, f); // may hold what the catalog said before the change
      } else if (!f.isCompletedExceptionally()) {
        SubscriptionSnapshot s = f.join().orElse(null);
        if (s != null && change.productIds().contains(s.product().id())) {
          map.remove(keyHash, f); // conditional: a newer load of the key stays
        }
      }
    });
  }

  /**
   * Reloads every known key in the background, {@value #REFRESHES_IN_FLIGHT} at a time, for after
   * change notices may have been missed (Redis was unreachable). Nothing is dropped meanwhile:
   * each key keeps answering from its snapshot, and keeps it if the catalog does not answer.
   * Unknown keys are not reloaded. A new pass stops the one before.
   *
   * @return completes when the pass has reloaded every key, or was stopped by a newer one
   */
  public CompletableFuture<Void> refreshAll() {
    List<String> known = new ArrayList<>();
    cache.asMap().forEach((keyHash, f) -> {
      if (f.isDone() && !f.isCompletedExceptionally() && f.join().isPresent()) {
        known.add(keyHash);
      }
    });
    RefreshPass pass = new RefreshPass(known);
    RefreshPass before = refreshing.getAndSet(pass);
    if (before != null) {
      before.stopped = true;
    }
    pass.done.whenComplete((v, e) -> refreshing.compareAndSet(pass, null)); // lets its key list go
    pass.start();
    return pass.done;
  }

  /** Catalog reads so far: loads and background refreshes, failed ones included. */
  public long loads() {
    return loads.sum();
  }

  public long size() {
    return cache.synchronous().estimatedSize();
  }

  private void index(String subscriptionId, String keyHash, Optional<SubscriptionSnapshot> loaded) {
    keysBySubscription.compute(subscriptionId, (id, keys) -> {
      if (keys == null) {
        return Map.of(keyHash, loaded);
      }
      Map<String, Optional<SubscriptionSnapshot>> more = new HashMap<>(keys);
      more.put(keyHash, loaded);
      return Map.copyOf(more);
    });
  }

  /**
   * Forgets a removed key, unless a newer load of it has indexed its own snapshot since, or the key
   * is cached (or loading) again. The second case: a read dropped while under way (a change came)
   * may end after the key's next load was cached, and index after it did; its removal, told when
   * it ends, then finds its own instance in the index, but the key must stay findable for the
   * snapshot that is cached. The index is pointed at that snapshot, so its own removal forgets the
   * key in turn. Reading the cache here takes no lock of Caffeine's.
   */
  private void unindex(String subscriptionId, String keyHash, Optional<SubscriptionSnapshot> removed) {
    keysBySubscription.computeIfPresent(subscriptionId, (id, keys) -> {
      if (keys.get(keyHash) != removed) {
        return keys;
      }
      if (cache.asMap().containsKey(keyHash)) {
        Optional<SubscriptionSnapshot> cached = cache.synchronous().policy().getIfPresentQuietly(keyHash);
        if (cached != null && cached.isPresent() && cached.get().subscription().id().equals(subscriptionId)) {
          Map<String, Optional<SubscriptionSnapshot>> repointed = new HashMap<>(keys);
          repointed.put(keyHash, cached);
          return Map.copyOf(repointed);
        }
        return keys; // loading (its load indexes itself), or another subscription's now: a spare entry costs nothing
      }
      if (keys.size() == 1) {
        return null;
      }
      Map<String, Optional<SubscriptionSnapshot>> fewer = new HashMap<>(keys);
      fewer.remove(keyHash);
      return Map.copyOf(fewer);
    });
  }

  /** One {@link #refreshAll()}: workers take the next key until none is left. */
  private final class RefreshPass {
    final List<String> keys;
    final AtomicInteger next = new AtomicInteger();
    final AtomicInteger workers = new AtomicInteger(REFRESHES_IN_FLIGHT);
    final CompletableFuture<Void> done = new CompletableFuture<>();
    volatile boolean stopped;

    RefreshPass(List<String> keys) {
      this.keys = keys;
    }

    void start() {
      for (int i = 0; i < REFRESHES_IN_FLIGHT; i++) {
        work();
      }
    }

    /** Refreshes keys until one is still loading (it resumes this worker) or none is left. */
    void work() {
      while (true) {
        int i = next.getAndIncrement();
        if (stopped || i >= keys.size()) {
          if (workers.decrementAndGet() == 0) {
            done.complete(null);
          }
          return;
        }
        String keyHash = keys.get(i);
        if (cache.synchronous().policy().getIfPresentQuietly(keyHash) == null) {
          continue; // evicted or invalidated since: the next call loads it anyway
        }
        CompletableFuture<?> refreshed = cache.synchronous().refresh(keyHash);
        if (!refreshed.isDone()) {
          refreshed.whenComplete((v, e) -> work());
          return;
        }
      }
    }
  }
}
