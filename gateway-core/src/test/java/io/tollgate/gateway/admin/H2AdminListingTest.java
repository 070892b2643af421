package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

class H2AdminListingTest extends AdminListingContract {
  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.h2();
  }
}
