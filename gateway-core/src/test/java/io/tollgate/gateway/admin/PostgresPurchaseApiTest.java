package io.tollgate.gateway.admin;

import io.tollgate.gateway.catalog.TestDatabases;

class PostgresPurchaseApiTest extends PurchaseApiContract {
  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.postgres();
  }
}
