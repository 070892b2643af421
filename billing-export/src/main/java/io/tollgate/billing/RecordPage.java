package io.tollgate.billing;

import java.util.List;

/** A page of records in export order, and whether records follow it (now). */
public record RecordPage(List<UsageRecord> records, boolean hasMore) {

  public RecordPage {
    records = List.copyOf(records);
  }

  /** The id of the first record; null for an empty page. */
  public String firstId() {
    return records.isEmpty() ? null : records.get(0).id();
  }

  /** The id of the last record, the next page's {@code after}; null for an empty page. */
  public String lastId() {
    return records.isEmpty() ? null : records.get(records.size() - 1).id();
  }
}
