package io.tollgate.billing;

/** The ledger on the machine's PostgreSQL, each test in a schema of its own. */
class PostgresRecordLedgerTest extends RecordLedgerContract {

  @Override
  TestDatabase newDatabase() {
    return TestDatabase.postgres();
  }
}
