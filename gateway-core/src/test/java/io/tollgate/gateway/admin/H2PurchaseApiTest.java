package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

class H2PurchaseApiTest extends PurchaseApiContract {
  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.h2();
  }
}
