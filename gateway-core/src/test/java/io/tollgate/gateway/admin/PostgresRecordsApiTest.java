package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

/** The pull API on a PostgreSQL catalog (the machine's, a schema of its own per test). */
class PostgresRecordsApiTest extends RecordsApiContract {

  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.postgres();
  }
}
