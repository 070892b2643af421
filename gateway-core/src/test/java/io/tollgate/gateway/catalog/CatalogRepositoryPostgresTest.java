package io.tollgate.gateway.catalog;

/** The repository contract on the machine's PostgreSQL, each test in its own schema. */
class CatalogRepositoryPostgresTest extends CatalogRepositoryContract {

  @Override
  TestDatabases.Db newDatabase() {
    return TestDatabases.postgres();
  }
}
