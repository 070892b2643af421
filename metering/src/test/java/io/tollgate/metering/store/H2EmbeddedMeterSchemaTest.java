package io.tollgate.metering.store;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * On the embedded store as the gateway opens it: an H2 file database in a data dir, with the
 * settings of {@code CatalogRepository.h2FileUrl} (copied: the metering module does not know the
 * catalog). Every connection here is the only one, so each reopens the database from its file.
 */
class H2EmbeddedMeterSchemaTest extends MeterSchemaContract {

  @TempDir Path dataDirs;
  private final AtomicInteger next = new AtomicInteger();

  @Override
  DataSource newDatabase() {
    JdbcDataSource ds = new JdbcDataSource();
    ds.setURL("jdbc:h2:file:" + dataDirs.resolve("data" + next.incrementAndGet()) + "/tollgate;"
        + "MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH;WRITE_DELAY=0");
    return ds;
  }

  @Override
  void dropDatabases() {}
}
