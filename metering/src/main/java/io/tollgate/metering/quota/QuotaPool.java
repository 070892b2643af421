package io.tollgate.metering.quota;

/**
 * The shared remainder of each subscription's quota for a period, from which instances lease
 * chunks. Blocking; call from a worker thread, never an event loop. Amounts are in the SKU's
 * quota unit (tokens or calls).
 */
public interface QuotaPool {

  /**
   * Provisions {@code quota} for a period if that period has none yet: idempotent, so every
   * instance (and a retried renewal) may call it; a new period key is a fresh quota.
   */
  void restore(String subscriptionId, String periodKey, long quota);

  /** Atomically takes {@code min(max, remaining)}; 0 when exhausted or never provisioned. */
  long take(String subscriptionId, String periodKey, long max);

  /** Returns unused leased quota. */
  void giveBack(String subscriptionId, String periodKey, long amount);

  /** What is left in the pool (not counting leases held by instances); -1 if not provisioned. */
  long remaining(String subscriptionId, String periodKey);
}
