package io.tollgate.metering.store;

import io.tollgate.metering.testing.Services;
import java.time.Clock;

class H2MeterStoreTest extends MeterStoreContract {

  @Override
  MeterStore createStore() {
    return new JdbcMeterStore(Services.h2(), "tg_", Clock.systemUTC()).migrate();
  }

  @Override
  void dropStore() {}
}
