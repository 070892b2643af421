package io.tollgate.metering.store;

import io.tollgate.metering.testing.Services;
import java.time.Clock;
import java.time.Duration;
import javax.sql.DataSource;

class H2MeterStoreTest extends MeterStoreContract implements ExportSourceContract<JdbcMeterStore> {

  private final DataSource db = Services.h2();

  @Override
  MeterStore createStore() {
    return new JdbcMeterStore(db, "tg_", Clock.systemUTC()).migrate();
  }

  @Override
  public JdbcMeterStore exportStore(Duration window) {
    return new JdbcMeterStore(db, "tg_", Clock.systemUTC()).withExportWindow(window).migrate();
  }

  @Override
  void dropStore() {}
}
