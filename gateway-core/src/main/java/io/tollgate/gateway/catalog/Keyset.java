package io.tollgate.gateway.catalog;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Keyset paging over rows ordered by {@code (created_at, id)}: the page after an id is the rows
 * after that row's key, fetched with one row more than the limit to learn whether more follow.
 */
final class Keyset {

  private Keyset() {}

  /**
   * One page of {@code SELECT columns fromWhere}.
   *
   * @param fromWhere {@code FROM ... WHERE ...} over {@code alias} (use {@code WHERE TRUE} for no
   *     filter), its parameters in {@code args}
   * @param unknownAfter thrown when {@code after} names no row these filters select, so a client
   *     cannot page from another merchant's id
   */
  static <T> Page<T> page(Connection c, String columns, String fromWhere, List<?> args, String alias,
      PageQuery page, Jdbc.SqlFunction<ResultSet, T> mapper, RuntimeException unknownAfter) throws SQLException {
    var sql = new StringBuilder("SELECT ").append(columns).append(' ').append(fromWhere);
    var bound = new ArrayList<Object>(args);
    if (page.after() != null) {
      var lookupArgs = new ArrayList<Object>(args);
      lookupArgs.add(page.after());
      List<Instant> key = Jdbc.queryList(c, "SELECT " + alias + ".created_at AS key_created_at " + fromWhere
          + " AND " + alias + ".id = ?", lookupArgs, rs -> Jdbc.getInstant(rs, "key_created_at"));
      if (key.isEmpty()) {
        throw unknownAfter;
      }
      Instant createdAt = key.get(0);
      sql.append(" AND (").append(alias).append(".created_at > ? OR (").append(alias)
          .append(".created_at = ? AND ").append(alias).append(".id > ?))");
      bound.add(createdAt);
      bound.add(createdAt);
      bound.add(page.after());
    }
    sql.append(" ORDER BY ").append(alias).append(".created_at, ").append(alias).append(".id LIMIT ")
        .append(page.limit() + 1);
    List<T> rows = Jdbc.queryList(c, sql.toString(), bound, mapper);
    boolean more = rows.size() > page.limit();
    return new Page<>(more ? rows.subList(0, page.limit()) : rows, more);
  }
}
