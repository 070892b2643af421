package io.tollgate.billing;

/**
 * Keeps several exporters (one per gateway instance) from doing the same work at once. Not needed
 * for correctness (record ids are deterministic and record writers serialise in the ledger), only
 * to save the duplicate work. Implementations: Redis {@code SET NX PX} when Redis is configured,
 * a lease row in the catalog database otherwise.
 */
public interface ExportLease extends AutoCloseable {

  /**
   * Takes the lease, or renews it if this holder has it; false when another holder has a lease
   * that has not expired. Blocking.
   */
  boolean tryAcquire();

  /** Gives the lease up if this holder has it. */
  @Override
  void close();
}
