package io.tollgate.metering.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/** The fault-test server itself: a kill is a crash that keeps every commit, and it starts again. */
class PrivatePostgresTest {

  @Test
  void killedAndRestarted_keepsEveryCommittedRow() throws Exception {
    try (PrivatePostgres pg = new PrivatePostgres()) {
      try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), PrivatePostgres.USER, "");
          Statement s = c.createStatement()) {
        s.execute("CREATE TABLE t (n INT PRIMARY KEY)");
        for (int n = 0; n < 20; n++) {
          s.execute("INSERT INTO t VALUES (" + n + ")"); // autocommit: one commit each
        }
      }
      pg.kill();
      assertThat(pg.accepting()).as("SIGKILL took the server down").isFalse();

      pg.start();
      try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), PrivatePostgres.USER, "");
          Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT count(*) FROM t")) {
        rs.next();
        assertThat(rs.getLong(1)).as("crash recovery replays every acknowledged commit").isEqualTo(20);
      }
    }
  }
}
