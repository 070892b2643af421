package io.tollgate.billing;

import java.sql.Connection;
import java.util.Collection;
import java.util.List;
import javax.sql.DataSource;

/**
 * The {@code usage_records} table (PostgreSQL, or H2 embedded): the ledger of every exported
 * record, the JDBC sink, and what the pull API and the JSONL files read.
 *
 * <p>TODO(issue 7): being built; the signatures below are the contract the exporter and the
 * gateway code against.
 *
 * <ul>
 *   <li>Every writer of records ({@link #commitWindow}, {@link #commitPurchases}) takes the same
 *       lock (a counter row, {@code SELECT ... FOR UPDATE}) for its whole transaction and numbers
 *       its records from that counter: records are committed in {@code seq} order, so a reader
 *       that pages by {@code seq} never skips one committed late.
 *   <li>Records are inserted by id and never updated; inserting an id that exists with other
 *       content is an error (two writers disagreed), never an overwrite.
 *   <li>Tables are created by Flyway ({@code classpath:db/billing}, history table {@code
 *       billing_schema_history}), on H2 and PostgreSQL alike.
 * </ul>
 */
public final class RecordLedger {

  private final DataSource dataSource;

  public RecordLedger(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  /** Creates or upgrades the billing tables. Idempotent. */
  public RecordLedger migrate() {
    throw new UnsupportedOperationException("todo");
  }

  /**
   * Brings the exported records of window {@code w} up to {@code current}, in one transaction:
   * reads what the window's records of each (subscription, SKU) add up to, and writes the
   * difference: a {@link RecordKind#USAGE} record (revision 0) for a pair with none yet, an
   * {@link RecordKind#ADJUSTMENT} (next revision) for a pair whose usage grew. Pairs that did not
   * change get nothing. Returns the records written.
   */
  public List<UsageRecord> commitWindow(ExportWindow w, Collection<WindowUsage> current) {
    throw new UnsupportedOperationException("todo " + dataSource + w + current);
  }

  /**
   * Queues a purchase in the caller's transaction on this ledger's database (the catalog's), so a
   * purchase is recorded exactly when its subscription commits.
   */
  public static void enqueuePurchase(Connection c, PurchaseOrder order) {
    throw new UnsupportedOperationException("todo " + c + order);
  }

  /** Turns queued purchases into records, priced by {@code prices}; returns the records written. */
  public List<UsageRecord> commitPurchases(PriceBook prices, java.time.Duration window) {
    throw new UnsupportedOperationException("todo " + prices + window);
  }
}
