package io.tollgate.metering.store;

import io.tollgate.metering.testing.Services;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/** On PostgreSQL, each database a schema of its own in the shared database. */
class PostgresMeterSchemaTest extends MeterSchemaContract {

  private final List<String> schemas = new ArrayList<>();

  @Override
  DataSource newDatabase() {
    String schema = Services.uniquePrefix();
    schemas.add(schema);
    return Services.postgresSchema(schema);
  }

  @Override
  void dropDatabases() {
    schemas.forEach(Services::dropSchema);
  }
}
