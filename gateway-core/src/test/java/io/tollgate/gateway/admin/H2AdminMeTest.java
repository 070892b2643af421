package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

class H2AdminMeTest extends AdminMeContract {
  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.h2();
  }
}
