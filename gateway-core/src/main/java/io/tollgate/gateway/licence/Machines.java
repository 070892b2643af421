package io.tollgate.gateway.licence;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;

/**
 * The {@code licence_machines} table, merged with the fresh {@link SeenTimes}: which machines are
 * activated on a licence code, and which of them are alive.
 *
 * <p>Seats are counted under a lock on the subscription's row ({@code SELECT ... FOR UPDATE}):
 * two activations of one code, on any instances sharing the database, run one after the other,
 * and the second counts the first's machine. So two machines racing for the last seat cannot both
 * get it. Whether a machine is alive is decided at the moment of the count (last seen within two
 * heartbeat intervals, the fresher of the table's time and the seen store's), never by a sweep,
 * so a seat a dead machine held is free at once; the activation that finds it dead deletes it.
 *
 * <p>Every method blocks on JDBC (and Redis): call it from a worker thread.
 */
final class Machines {

  /** A machine as the table and the seen store know it; times in epoch ms. */
  record Machine(String fingerprint, String hostname, long activatedAt, long lastSeen) {
    boolean aliveSince(long aliveSince) {
      return lastSeen >= aliveSince;
    }
  }

  /** What an activation did. */
  sealed interface Activation {
    /** @param already the machine was active already: no seat was used */
    record Activated(Machine machine, boolean already, long used) implements Activation {}

    /** Every seat is held by a live machine. */
    record Full(long used) implements Activation {}
  }

  /** A candidate of the sweep: a machine the table last saw long ago. */
  record Stale(String subscriptionId, String fingerprint, long lastSeen, long intervalMillis) {}

  private static final String COLUMNS = "fingerprint, hostname, activated_at, last_seen_at";

  private final DataSource db;
  private final SeenTimes seen;

  Machines(DataSource db, SeenTimes seen) {
    this.db = db;
    this.seen = seen;
  }

  /**
   * Activates {@code fingerprint} on the subscription, if a seat is free or it is active already.
   *
   * @param aliveSince machines last seen before this are dead
   */
  Activation activate(String subscriptionId, String fingerprint, String hostname, long now, long aliveSince,
      long seats) throws SQLException {
    List<Machine> dead = new ArrayList<>();
    Activation result;
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      try {
        try (PreparedStatement ps = c.prepareStatement("SELECT id FROM subscriptions WHERE id = ? FOR UPDATE")) {
          ps.setString(1, subscriptionId);
          try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
              throw new SQLException("no subscription " + subscriptionId);
            }
          }
        }
        List<Machine> machines = merged(subscriptionId, rows(c, subscriptionId));
        long used = 0;
        Machine self = null;
        for (Machine m : machines) {
          if (m.aliveSince(aliveSince)) {
            used++;
            if (m.fingerprint().equals(fingerprint)) {
              self = m;
            }
          } else {
            dead.add(m);
          }
        }
        for (Machine m : dead) {
          delete(c, subscriptionId, m.fingerprint());
        }
        if (self != null) {
          result = new Activation.Activated(self, true, used);
        } else if (used >= seats) {
          result = new Activation.Full(used);
        } else {
          Machine m = new Machine(fingerprint, hostname, now, now);
          insert(c, subscriptionId, m);
          result = new Activation.Activated(m, false, used + 1);
        }
        c.commit();
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    }
    for (Machine m : dead) {
      seen.forget(subscriptionId, m.fingerprint());
    }
    if (result instanceof Activation.Activated a && !a.already()) {
      seen.put(subscriptionId, fingerprint, new SeenTimes.Seen(now, now));
    }
    return result;
  }

  /** Deactivates a machine; false if it was not activated. */
  boolean deactivate(String subscriptionId, String fingerprint) throws SQLException {
    boolean deleted;
    try (Connection c = db.getConnection()) {
      deleted = delete(c, subscriptionId, fingerprint);
    }
    seen.forget(subscriptionId, fingerprint);
    return deleted;
  }

  /** Every machine the table holds for the subscription, with the freshest last-seen times. */
  List<Machine> list(String subscriptionId) throws SQLException {
    try (Connection c = db.getConnection()) {
      return merged(subscriptionId, rows(c, subscriptionId));
    }
  }

  /**
   * Puts the table's machines of a subscription into the seen store where it has none (after a
   * restart of an in-memory store, or a Redis that lost them).
   */
  void warm(String subscriptionId) throws SQLException {
    List<Machine> rows;
    try (Connection c = db.getConnection()) {
      rows = rows(c, subscriptionId);
    }
    for (Machine m : rows) {
      seen.putIfAbsent(subscriptionId, m.fingerprint(), new SeenTimes.Seen(m.lastSeen(), m.activatedAt()));
    }
  }

  /**
   * Writes last-seen times in one batch; a time never moves back, a deleted machine stays deleted.
   *
   * @return the rows written
   */
  int writeLastSeen(Map<MachineKey, Long> times) throws SQLException {
    if (times.isEmpty()) {
      return 0;
    }
    int written = 0;
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement("UPDATE licence_machines SET last_seen_at = ?"
          + " WHERE subscription_id = ? AND fingerprint = ? AND last_seen_at < ?")) {
        int n = 0;
        for (var e : times.entrySet()) {
          OffsetDateTime t = time(e.getValue());
          ps.setObject(1, t);
          ps.setString(2, e.getKey().subscriptionId());
          ps.setString(3, e.getKey().fingerprint());
          ps.setObject(4, t);
          ps.addBatch();
          if (++n % 500 == 0) {
            written += sum(ps.executeBatch());
          }
        }
        if (n % 500 != 0) {
          written += sum(ps.executeBatch());
        }
        c.commit();
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    }
    return written;
  }

  /**
   * Tidies storage: deletes up to {@code limit} machines dead at {@code now} (by the fresher of the
   * table's and the seen store's time) and forgets them. Nothing depends on it running: seats and
   * heartbeats decide alive or dead at the moment of the request.
   *
   * @return the machines deleted
   */
  int sweep(long now, int limit) throws SQLException {
    List<Stale> candidates = new ArrayList<>();
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT m.subscription_id, m.fingerprint, m.last_seen_at,"
            + " p.licence_heartbeat_ms FROM licence_machines m JOIN subscriptions s ON s.id = m.subscription_id"
            + " JOIN skus k ON k.id = s.sku_id JOIN products p ON p.id = k.product_id"
            + " WHERE m.last_seen_at < ? ORDER BY m.last_seen_at LIMIT " + limit)) {
      ps.setObject(1, time(now - 2 * io.tollgate.gateway.catalog.Product.LicenceTerms.MIN_HEARTBEAT_INTERVAL.toMillis()));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          candidates.add(new Stale(rs.getString(1), rs.getString(2), millis(rs, 3), rs.getLong(4)));
        }
      }
    }
    int deleted = 0;
    Map<String, Map<String, SeenTimes.Seen>> fresh = new HashMap<>();
    try (Connection c = db.getConnection();
        PreparedStatement del = c.prepareStatement("DELETE FROM licence_machines"
            + " WHERE subscription_id = ? AND fingerprint = ? AND last_seen_at = ?")) {
      for (Stale s : candidates) {
        SeenTimes.Seen inStore = fresh.computeIfAbsent(s.subscriptionId(), seen::all).get(s.fingerprint());
        long last = Math.max(s.lastSeen(), inStore == null ? 0 : inStore.lastSeen());
        long interval = s.intervalMillis() > 0 ? s.intervalMillis()
            : io.tollgate.gateway.catalog.Product.LicenceTerms.DEFAULT_HEARTBEAT_INTERVAL.toMillis();
        if (last >= now - 2 * interval) {
          continue;
        }
        del.setString(1, s.subscriptionId());
        del.setString(2, s.fingerprint());
        del.setObject(3, time(s.lastSeen()));
        if (del.executeUpdate() > 0) {
          deleted++;
          seen.forget(s.subscriptionId(), s.fingerprint());
        }
      }
    }
    return deleted;
  }

  private List<Machine> merged(String subscriptionId, List<Machine> rows) {
    if (rows.isEmpty()) {
      return rows;
    }
    Map<String, SeenTimes.Seen> fresh = seen.all(subscriptionId);
    List<Machine> out = new ArrayList<>(rows.size());
    for (Machine m : rows) {
      SeenTimes.Seen s = fresh.get(m.fingerprint());
      out.add(s == null || s.lastSeen() <= m.lastSeen() ? m
          : new Machine(m.fingerprint(), m.hostname(), m.activatedAt(), s.lastSeen()));
    }
    return out;
  }

  private static List<Machine> rows(Connection c, String subscriptionId) throws SQLException {
    List<Machine> out = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS
        + " FROM licence_machines WHERE subscription_id = ? ORDER BY activated_at, fingerprint")) {
      ps.setString(1, subscriptionId);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new Machine(rs.getString(1), rs.getString(2), millis(rs, 3), millis(rs, 4)));
        }
      }
    }
    return out;
  }

  private static void insert(Connection c, String subscriptionId, Machine m) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("INSERT INTO licence_machines"
        + " (subscription_id, fingerprint, hostname, activated_at, last_seen_at) VALUES (?, ?, ?, ?, ?)")) {
      ps.setString(1, subscriptionId);
      ps.setString(2, m.fingerprint());
      ps.setString(3, m.hostname());
      ps.setObject(4, time(m.activatedAt()));
      ps.setObject(5, time(m.lastSeen()));
      ps.executeUpdate();
    }
  }

  private static boolean delete(Connection c, String subscriptionId, String fingerprint) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(
        "DELETE FROM licence_machines WHERE subscription_id = ? AND fingerprint = ?")) {
      ps.setString(1, subscriptionId);
      ps.setString(2, fingerprint);
      return ps.executeUpdate() > 0;
    }
  }

  private static int sum(int[] counts) {
    int n = 0;
    for (int k : counts) {
      n += k > 0 ? k : k == java.sql.Statement.SUCCESS_NO_INFO ? 1 : 0;
    }
    return n;
  }

  private static OffsetDateTime time(long millis) {
    return OffsetDateTime.ofInstant(Instant.ofEpochMilli(millis), ZoneOffset.UTC);
  }

  private static long millis(ResultSet rs, int col) throws SQLException {
    return rs.getObject(col, OffsetDateTime.class).toInstant().toEpochMilli();
  }
}
