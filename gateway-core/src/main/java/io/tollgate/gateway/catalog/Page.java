package io.tollgate.gateway.catalog;

import java.util.List;

/** A page of a list: its items, and whether more follow the last. */
public record Page<T>(List<T> items, boolean hasMore) {

  public Page {
    items = List.copyOf(items);
  }
}
