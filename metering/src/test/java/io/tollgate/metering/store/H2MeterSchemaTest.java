package io.tollgate.metering.store;

import io.tollgate.metering.testing.Services;
import javax.sql.DataSource;

/** On in-memory H2 in its own mode, as the metering and gateway tests use it. */
class H2MeterSchemaTest extends MeterSchemaContract {

  @Override
  DataSource newDatabase() {
    return Services.h2();
  }

  @Override
  void dropDatabases() {}
}
