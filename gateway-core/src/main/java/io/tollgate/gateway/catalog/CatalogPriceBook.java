package io.tollgate.gateway.catalog;

import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.LoadingCache;
import com.github.benmanes.caffeine.cache.Ticker;
import io.tollgate.billing.PriceBook;
import io.tollgate.billing.SkuTerms;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;

/**
 * The catalog's prices as billing reads them: a SKU's billing mode and whole price history, read
 * in one statement and cached. The exporter asks once per SKU per window and the usage views once
 * per SKU per request, while prices change rarely, so a short-lived cache takes nearly every read
 * off the database.
 *
 * <p>Freshness: a SKU write through the repository that owns this book invalidates the SKU once
 * it has committed, so a price change made on this instance is priced from the next read on. A
 * change made by another instance sharing the database is seen within {@code maxAge}: the
 * exporter's grace period (default 2 minutes) is far longer than {@link #DEFAULT_MAX_AGE}, so a
 * window is never priced before every change in force inside it can be read. The past of a price
 * history never changes (entries are only appended), so a stale book can only miss the newest
 * entry, never hold a wrong one.
 *
 * <p>Blocking on a miss: call it off event loops.
 */
public final class CatalogPriceBook implements PriceBook {

  /** How long a SKU's terms are served from the cache. */
  public static final Duration DEFAULT_MAX_AGE = Duration.ofSeconds(10);

  private static final int MAX_SKUS = 10_000;

  private final LoadingCache<String, SkuTerms> terms;

  /**
   * @param loader reads a SKU's terms from the database; throws {@link CatalogException} NOT_FOUND
   *     for an unknown SKU (not cached, so a SKU created later is found)
   */
  CatalogPriceBook(Function<String, SkuTerms> loader, Duration maxAge, Ticker ticker) {
    Objects.requireNonNull(loader, "loader");
    this.terms = Caffeine.newBuilder()
        .maximumSize(MAX_SKUS)
        .expireAfterWrite(maxAge)
        .ticker(ticker)
        .build(loader::apply);
  }

  /**
   * The SKU's billing mode and price history, oldest entry first.
   *
   * @throws CatalogException NOT_FOUND if there is no such SKU, UNAVAILABLE if the database is down
   */
  @Override
  public SkuTerms terms(String skuId) {
    return terms.get(skuId);
  }

  /** Drops the SKU's cached terms; called after a write to its prices or mode committed. */
  void invalidate(String skuId) {
    terms.invalidate(skuId);
  }
}
