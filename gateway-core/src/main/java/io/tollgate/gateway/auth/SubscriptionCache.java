package io.tollgate.gateway.auth;

import com.github.benmanes.caffeine.cache.AsyncCacheLoader;
import com.github.benmanes.caffeine.cache.AsyncLoadingCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.metering.health.TaskHealth;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Function;

/**
 * API key hash to subscription snapshot, the buyer port's only catalog read.
 *
 * <p>A hit is a completed future, answered on the event loop with no allocation beyond Caffeine's
 * lookup; a miss loads from the repository on {@code loadExecutor} (JDBC never runs on an event
 * loop) and the caller resumes on its own loop. Unknown keys are cached too (as empty), so a flood
 * of wrong keys costs one database read per distinct key and expiry period, not one per request.
 *
 * <p>Freshness: every admin write that affects buyers calls {@link #invalidateAll()} on every
 * instance (locally, and over Redis pub/sub when Redis is configured), so a suspended, cancelled or
 * rotated-away key is refused from the next call on. {@code maxAge} bounds staleness if an
 * invalidation message is ever lost; defaults to 60 s. An entry still in use is refreshed in the
 * background after half that, so a busy key does not wait on the database every {@code maxAge}.
 *
 * <p>Outages: when that background refresh fails (the catalog database is down), the entry keeps
 * its last snapshot and its age starts again, so keys in use go on being served for as long as the
 * outage lasts, as Kong serves from its cache; nothing could change a subscription meanwhile, since
 * the admin API needs the same database, and expiry is checked against the clock on every call. A
 * key not seen for {@code maxAge} is loaded again, and during an outage that load fails.
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

  private final AsyncLoadingCache<String, Optional<SubscriptionSnapshot>> cache;

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
        .buildAsync(new AsyncCacheLoader<String, Optional<SubscriptionSnapshot>>() {
          @Override
          public CompletableFuture<Optional<SubscriptionSnapshot>> asyncLoad(String keyHash, Executor executor) {
            return CompletableFuture.supplyAsync(() -> {
              Optional<SubscriptionSnapshot> found;
              try {
                found = loader.apply(keyHash);
              } catch (RuntimeException e) {
                if (task != null) {
                  task.failed(e, TaskHealth.Cause.DEPENDENCY);
                }
                throw e;
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

  public long size() {
    return cache.synchronous().estimatedSize();
  }
}
