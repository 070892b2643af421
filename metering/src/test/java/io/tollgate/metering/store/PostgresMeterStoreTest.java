package io.tollgate.metering.store;

import io.tollgate.metering.testing.Services;
import java.time.Clock;

class PostgresMeterStoreTest extends MeterStoreContract {

  private final String schema = Services.uniquePrefix();

  @Override
  MeterStore createStore() {
    return new JdbcMeterStore(Services.postgresSchema(schema), "tg_", Clock.systemUTC())
        .migrate()
        .migrate();
  }

  @Override
  void dropStore() {
    Services.dropSchema(schema);
  }
}
