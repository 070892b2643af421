package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

/** The pull API on an H2 catalog, as the gateway embeds it. */
class H2RecordsApiTest extends RecordsApiContract {

  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.h2();
  }
}
