package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

class PostgresAdminMeTest extends AdminMeContract {
  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.postgres();
  }
}
