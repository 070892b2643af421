package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

class H2AdminListsTest extends AdminListsContract {
  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.h2();
  }
}
