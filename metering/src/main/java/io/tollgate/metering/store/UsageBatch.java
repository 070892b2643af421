package io.tollgate.metering.store;

import java.util.List;
import java.util.Objects;

/**
 * Deltas to add to the meter store, applied all or nothing and at most once per {@code id}: a
 * store that has applied a batch id ignores it afterwards (for at least the store's documented
 * id retention), so a sender may retry a batch whose outcome it does not know.
 *
 * @param id unique across all gateway instances and deterministic from the journal content that
 *     the batch covers (see {@code UsageAggregator})
 */
public record UsageBatch(String id, List<UsageCell> cells) {

  public UsageBatch {
    Objects.requireNonNull(id, "id");
    if (id.isEmpty() || id.length() > 160 || id.indexOf('{') >= 0 || id.indexOf('}') >= 0) {
      throw new IllegalArgumentException("batch id must be 1-160 chars without braces: " + id);
    }
    cells = List.copyOf(cells);
  }
}
