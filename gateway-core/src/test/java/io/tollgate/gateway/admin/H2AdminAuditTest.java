package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

class H2AdminAuditTest extends AdminAuditContract {
  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.h2();
  }
}
