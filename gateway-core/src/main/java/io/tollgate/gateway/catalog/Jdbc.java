package io.tollgate.gateway.catalog;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLTransientConnectionException;
import java.sql.Types;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The catalog stores' JDBC plumbing: statements with one string argument, nullable columns,
 * instants in microseconds, money in its shortest exact form, JSON text columns, and SQL errors
 * translated to {@link CatalogException}.
 */
final class Jdbc {

  private static final ObjectMapper JSON = new ObjectMapper();

  private Jdbc() {}

  @FunctionalInterface
  interface SqlFunction<T, R> {
    R apply(T t) throws SQLException;
  }

  static <T> Optional<T> queryOne(Connection c, String sql, String arg, SqlFunction<ResultSet, T> mapper)
      throws SQLException {
    try (var ps = c.prepareStatement(sql)) {
      ps.setString(1, arg);
      try (var rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(mapper.apply(rs)) : Optional.empty();
      }
    }
  }

  /** Every row of {@code sql}, run with {@code args} bound in order (strings, instants, numbers). */
  static <T> List<T> queryList(Connection c, String sql, List<?> args, SqlFunction<ResultSet, T> mapper)
      throws SQLException {
    try (var ps = c.prepareStatement(sql)) {
      int i = 1;
      for (Object arg : args) {
        if (arg instanceof Instant t) {
          setInstant(ps, i++, t);
        } else {
          ps.setObject(i++, arg);
        }
      }
      try (var rs = ps.executeQuery()) {
        var out = new ArrayList<T>();
        while (rs.next()) {
          out.add(mapper.apply(rs));
        }
        return List.copyOf(out);
      }
    }
  }

  static boolean exists(Connection c, String sql, String arg) throws SQLException {
    try (var ps = c.prepareStatement(sql)) {
      ps.setString(1, arg);
      try (var rs = ps.executeQuery()) {
        return rs.next();
      }
    }
  }

  /** Runs {@code sql} (a {@code SELECT ... FOR UPDATE} of one row) or fails NOT_FOUND. */
  static void lockRow(Connection c, String sql, String id, String what) throws SQLException {
    if (!exists(c, sql, id)) {
      throw CatalogException.notFound(what, id);
    }
  }

  /**
   * A connection error (SQLSTATE class 08), or the server going away under it (57P01 admin
   * shutdown, 57P02 crash shutdown, 57P03 cannot connect now: what PostgreSQL sends its clients
   * when it stops or restarts), is UNAVAILABLE: the database is down, not the query wrong.
   */
  static RuntimeException translate(SQLException e) {
    String state = e.getSQLState();
    if (e instanceof SQLTransientConnectionException
        || e instanceof SQLNonTransientConnectionException
        || state != null && (state.startsWith("08") || state.startsWith("57P0"))) {
      return new CatalogException(
          CatalogException.Kind.UNAVAILABLE, "catalog database unavailable: " + e.getMessage(), e);
    }
    if (state != null && state.startsWith("23")) {
      return new CatalogException(
          CatalogException.Kind.CONFLICT, "conflicts with stored data: " + e.getMessage(), e);
    }
    return new IllegalStateException("catalog query failed: " + e.getMessage(), e);
  }

  static Instant micros(Instant t) {
    return t == null ? null : t.truncatedTo(ChronoUnit.MICROS);
  }

  static void setInstant(PreparedStatement ps, int i, Instant t) throws SQLException {
    if (t == null) {
      ps.setNull(i, Types.TIMESTAMP_WITH_TIMEZONE);
    } else {
      ps.setObject(i, OffsetDateTime.ofInstant(t, ZoneOffset.UTC));
    }
  }

  static Instant getInstant(ResultSet rs, String col) throws SQLException {
    OffsetDateTime t = rs.getObject(col, OffsetDateTime.class);
    return t == null ? null : t.toInstant();
  }

  static void setLong(PreparedStatement ps, int i, Long v) throws SQLException {
    if (v == null) {
      ps.setNull(i, Types.BIGINT);
    } else {
      ps.setLong(i, v);
    }
  }

  static void setInt(PreparedStatement ps, int i, Integer v) throws SQLException {
    if (v == null) {
      ps.setNull(i, Types.INTEGER);
    } else {
      ps.setInt(i, v);
    }
  }

  static Long getLong(ResultSet rs, String col) throws SQLException {
    long v = rs.getLong(col);
    return rs.wasNull() ? null : v;
  }

  static Integer getInt(ResultSet rs, String col) throws SQLException {
    int v = rs.getInt(col);
    return rs.wasNull() ? null : v;
  }

  /** Reads NUMERIC(38,18) back as the shortest exact decimal: 0.150000... becomes 0.15. */
  static BigDecimal money(ResultSet rs, String col) throws SQLException {
    return shortest(rs.getBigDecimal(col));
  }

  static BigDecimal shortest(BigDecimal v) {
    if (v == null) {
      return null;
    }
    v = v.stripTrailingZeros();
    return v.scale() < 0 ? v.setScale(0) : v;
  }

  static String toJson(Object value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode catalog field", e);
    }
  }

  static <T> T fromJson(String json, TypeReference<T> type) {
    try {
      return JSON.readValue(json, type);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("corrupt catalog field", e);
    }
  }

  static String rootMessage(Throwable e) {
    Throwable t = e;
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }
}
