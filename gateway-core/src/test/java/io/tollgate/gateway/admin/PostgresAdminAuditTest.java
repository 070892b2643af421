package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

class PostgresAdminAuditTest extends AdminAuditContract {
  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.postgres();
  }
}
