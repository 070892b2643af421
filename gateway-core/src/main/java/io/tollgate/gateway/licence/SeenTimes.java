package io.tollgate.gateway.licence;

import java.util.Map;

/**
 * When each activated machine was last seen, kept out of the database so that a heartbeat costs
 * no database write: in this process ({@link LocalSeenTimes}) or in Redis, shared by every
 * instance ({@link RedisSeenTimes}). The machines table is the record of which machines are
 * activated; this holds their fresh last-seen times (and activation times, so a heartbeat needs
 * no database read either), and the {@link LastSeenWriter} copies them to the table in batches.
 *
 * <p>Entries are per subscription (licence code) and machine fingerprint. Methods may block (a
 * Redis round trip): call them from a worker thread, never an event loop.
 */
interface SeenTimes {

  /** A machine's times, epoch milliseconds. */
  record Seen(long lastSeen, long activatedAt) {}

  /**
   * What a heartbeat found.
   *
   * @param before the machine's entry before the heartbeat, or null if there was none
   * @param alive the subscription's machines alive (seen at or after {@code aliveSince}) after it
   */
  record Touch(Seen before, long alive) {}

  /** Records a machine just activated (or re-read from the table), replacing what was there. */
  void put(String subscriptionId, String fingerprint, Seen seen);

  /** Records a machine read from the table, unless an entry (fresher) is there already. */
  void putIfAbsent(String subscriptionId, String fingerprint, Seen seen);

  /**
   * A heartbeat: if the machine has an entry last seen at or after {@code aliveSince}, its last
   * seen becomes {@code now}; a dead or absent entry is left as it is, atomically so.
   *
   * @return the entry as it was before (or null), and the machines alive after it, in one step
   */
  Touch touchIfAlive(String subscriptionId, String fingerprint, long now, long aliveSince);

  /** Every machine of a subscription that has an entry. */
  Map<String, Seen> all(String subscriptionId);

  /** Forgets a machine (deactivated, or dead and tidied away). */
  void forget(String subscriptionId, String fingerprint);
}
