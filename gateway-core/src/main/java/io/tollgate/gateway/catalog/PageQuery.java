package io.tollgate.gateway.catalog;

/**
 * One page of a list: the items after the one with id {@code after} (null: from the first), at
 * most {@code limit} of them. Lists are ordered oldest first (creation time, then id), and paged by
 * keyset in SQL: a page costs the same however deep it is, and an item created while a client
 * pages appears on a later page, never shifting the ones it has read.
 */
public record PageQuery(String after, int limit) {

  public static final int DEFAULT_LIMIT = 20;
  public static final int MAX_LIMIT = 100;

  public PageQuery {
    if (limit < 1 || limit > MAX_LIMIT) {
      throw new IllegalArgumentException("limit must be from 1 to " + MAX_LIMIT + ": " + limit);
    }
  }

  public static PageQuery first(int limit) {
    return new PageQuery(null, limit);
  }
}
