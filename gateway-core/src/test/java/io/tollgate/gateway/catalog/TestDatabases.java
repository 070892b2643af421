package io.tollgate.gateway.catalog;

import static org.junit.jupiter.api.Assertions.fail;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Locale;
import java.util.UUID;

/**
 * Throw-away databases for tests: an H2 in-memory database, or a fresh schema in the machine's
 * PostgreSQL (127.0.0.1:5432, user postgres, database test). Each is dropped by {@link
 * Db#drop()}.
 */
public final class TestDatabases {

  public static final String PG_URL = "jdbc:postgresql://127.0.0.1:5432/test";
  public static final String PG_USER = "postgres";

  private TestDatabases() {}

  /** A database a test owns: its JDBC URL and how to drop it. */
  public interface Db {
    String url();

    String user();

    void drop();
  }

  public static Db h2() {
    String name = "t_" + UUID.randomUUID().toString().replace("-", "");
    String url = "jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1;" + CatalogRepository.H2_SETTINGS;
    return new Db() {
      @Override
      public String url() {
        return url;
      }

      @Override
      public String user() {
        return "sa";
      }

      @Override
      public void drop() {
        try (Connection c = DriverManager.getConnection(url, "sa", "");
            var st = c.createStatement()) {
          st.execute("SHUTDOWN");
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      }
    };
  }

  /** A fresh schema in the local PostgreSQL; fails the test (never skips) if it is unreachable. */
  public static Db postgres() {
    String schema = "t_" + UUID.randomUUID().toString().replace("-", "").toLowerCase(Locale.ROOT);
    try (Connection c = DriverManager.getConnection(PG_URL, PG_USER, "");
        var st = c.createStatement()) {
      st.execute("CREATE SCHEMA " + schema);
    } catch (SQLException e) {
      fail(
          "PostgreSQL is unreachable at "
              + PG_URL
              + " as "
              + PG_USER
              + ": install and start `postgresql` (trust auth, database `test`). Cause: "
              + e.getMessage(),
          e);
    }
    String url = PG_URL + "?currentSchema=" + schema;
    return new Db() {
      @Override
      public String url() {
        return url;
      }

      @Override
      public String user() {
        return PG_USER;
      }

      @Override
      public void drop() {
        try (Connection c = DriverManager.getConnection(PG_URL, PG_USER, "");
            var st = c.createStatement()) {
          st.execute("DROP SCHEMA " + schema + " CASCADE");
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      }
    };
  }
}
