package io.tollgate.gateway.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.SQLException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What an SQL error from the catalog database says to the caller. */
class JdbcTranslateTest {

  /**
   * A PostgreSQL that stops or restarts ends its sessions with 57P01-57P03 (CI saw "FATAL:
   * terminating connection due to unexpected postmaster exit", 57P01): the database is down, as
   * with a connection error, so the admin API answers 503, not a 500 for a failed query.
   */
  @ParameterizedTest
  @ValueSource(strings = {"08006", "08001", "57P01", "57P02", "57P03"})
  void theDatabaseGoingAway_isUnavailable(String state) {
    RuntimeException e = Jdbc.translate(new SQLException("FATAL: terminating connection", state));
    assertThat(e).isInstanceOf(CatalogException.class);
    assertThat(((CatalogException) e).kind()).isEqualTo(CatalogException.Kind.UNAVAILABLE);
  }

  @ParameterizedTest
  @ValueSource(strings = {"42601", "57014"})
  void aQueryThatFails_isNot(String state) {
    assertThat(Jdbc.translate(new SQLException("syntax error or statement timeout", state)))
        .isNotInstanceOf(CatalogException.class).hasMessageStartingWith("catalog query failed");
  }
}
