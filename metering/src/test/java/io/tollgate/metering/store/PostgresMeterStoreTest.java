package io.tollgate.metering.store;

import io.tollgate.metering.testing.Services;
import java.time.Clock;
import java.time.Duration;
import javax.sql.DataSource;

class PostgresMeterStoreTest extends MeterStoreContract implements ExportSourceContract<JdbcMeterStore> {

  private final String schema = Services.uniquePrefix();
  private DataSource db;

  @Override
  MeterStore createStore() {
    db = Services.postgresSchema(schema);
    return new JdbcMeterStore(db, "tg_", Clock.systemUTC())
        .migrate()
        .migrate();
  }

  @Override
  public JdbcMeterStore exportStore(Duration window) {
    return new JdbcMeterStore(db, "tg_", Clock.systemUTC()).withExportWindow(window).migrate();
  }

  @Override
  void dropStore() {
    Services.dropSchema(schema);
  }
}
