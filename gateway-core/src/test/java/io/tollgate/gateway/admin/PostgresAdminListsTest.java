package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

class PostgresAdminListsTest extends AdminListsContract {
  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.postgres();
  }
}
