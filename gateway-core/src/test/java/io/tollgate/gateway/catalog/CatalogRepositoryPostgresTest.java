package io.tollgate.gateway.catalog;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.time.Clock;
import org.junit.jupiter.api.Test;

/** The repository contract on the machine's PostgreSQL, each test in its own schema. */
class CatalogRepositoryPostgresTest extends CatalogRepositoryContract {

  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.postgres();
  }

  /** A partitioned database must not hang a pooled connection (and the usage flusher) for good. */
  @Test
  void pooledConnections_haveASocketTimeout_unlessTheUrlSetsItsOwn() throws Exception {
    try (Connection c = repo.dataSource().getConnection()) {
      assertThat(c.getNetworkTimeout()).isEqualTo(Integer.parseInt(CatalogRepository.POSTGRES_SOCKET_TIMEOUT_SECONDS) * 1000);
    }
    try (CatalogRepository own = CatalogRepository.open(db.url() + "&socketTimeout=7", db.user(), "", Clock.systemUTC());
        Connection c = own.dataSource().getConnection()) {
      assertThat(c.getNetworkTimeout()).isEqualTo(7000);
    }
  }
}
