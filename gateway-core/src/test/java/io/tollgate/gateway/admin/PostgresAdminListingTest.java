package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

class PostgresAdminListingTest extends AdminListingContract {
  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.postgres();
  }
}
