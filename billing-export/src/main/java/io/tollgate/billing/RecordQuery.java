package io.tollgate.billing;

import java.time.Instant;

/**
 * One page of the ledger, in export order ({@link RecordLedger#page}). Every filter is optional
 * (null: any).
 *
 * @param merchantId the caller's scope for a merchant token: its records only, and {@code after}
 *     must be one of them
 * @param from inclusive, compared with the window start
 * @param to exclusive, compared with the window start
 * @param after the id of the last record of the previous page; null for the first page
 * @param limit 1 to {@value #MAX_LIMIT}
 */
public record RecordQuery(
    String merchantId,
    String subscriptionId,
    String productId,
    Instant from,
    Instant to,
    RecordKind kind,
    String after,
    int limit) {

  public static final int MAX_LIMIT = 1000;
  public static final int DEFAULT_LIMIT = 100;

  public RecordQuery {
    if (limit < 1 || limit > MAX_LIMIT) {
      throw new IllegalArgumentException("limit must be 1.." + MAX_LIMIT + ": " + limit);
    }
  }

  /** The first page of every record. */
  public static RecordQuery all(int limit) {
    return new RecordQuery(null, null, null, null, null, null, null, limit);
  }

  /** The same query, for the page after record {@code id}. */
  public RecordQuery after(String id) {
    return new RecordQuery(merchantId, subscriptionId, productId, from, to, kind, id, limit);
  }
}
