package io.tollgate.metering.testing;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.UUID;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The real services tests run against. A missing service fails the test with the Debian package
 * to install; nothing is skipped silently.
 */
public final class Services {

  public static final String REDIS_URI = "redis://127.0.0.1:6379";
  public static final String PG_URL = "jdbc:postgresql://127.0.0.1:5432/test";

  private Services() {}

  /** A unique, brace-free prefix for one test's Redis keys. */
  public static String uniquePrefix() {
    return "t" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  /** A client for the shared Redis; fails with install advice when it is not running. */
  public static RedisClient sharedRedis() {
    RedisURI uri = RedisURI.create(REDIS_URI);
    uri.setTimeout(Duration.ofSeconds(5));
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      c.sync().ping();
    } catch (RuntimeException e) {
      client.shutdown();
      throw new AssertionError(
          "Redis must run on 127.0.0.1:6379 for this test: apt-get install redis-server", e);
    }
    return client;
  }

  /** Deletes every key under {@code prefix:}. */
  public static void deleteKeys(RedisCommands<String, String> redis, String prefix) {
    for (String key : redis.keys(prefix + ":*")) {
      redis.del(key);
    }
  }

  /** A fresh in-memory H2 database private to the caller. */
  public static DataSource h2() {
    JdbcDataSource ds = new JdbcDataSource();
    ds.setURL("jdbc:h2:mem:" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1");
    return ds;
  }

  /** A data source on a fresh PostgreSQL schema; drop it with {@link #dropSchema}. */
  public static DataSource postgresSchema(String schema) {
    String user = pgUser();
    try (Connection c = DriverManager.getConnection(PG_URL, user, null);
        Statement s = c.createStatement()) {
      s.execute("CREATE SCHEMA " + schema);
    } catch (SQLException e) {
      throw new AssertionError("cannot create schema " + schema + ": " + e.getMessage(), e);
    }
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setURL(PG_URL + "?currentSchema=" + schema);
    ds.setUser(user);
    return ds;
  }

  public static void dropSchema(String schema) {
    try (Connection c = DriverManager.getConnection(PG_URL, pgUser(), null);
        Statement s = c.createStatement()) {
      s.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    } catch (SQLException e) {
      throw new AssertionError("cannot drop schema " + schema, e);
    }
  }

  private static String pgUser() {
    for (String user : new String[] {"postgres", "root"}) {
      try (Connection c = DriverManager.getConnection(PG_URL, user, null)) {
        return c.getMetaData().getUserName();
      } catch (SQLException e) {
        // try the next user
      }
    }
    throw new AssertionError(
        "PostgreSQL must accept user postgres or root on 127.0.0.1:5432, database test:"
            + " apt-get install postgresql");
  }
}
