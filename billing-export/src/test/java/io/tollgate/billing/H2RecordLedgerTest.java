package io.tollgate.billing;

/** The ledger on H2 as the gateway opens it (PostgreSQL mode). */
class H2RecordLedgerTest extends RecordLedgerContract {

  @Override
  TestDatabase newDatabase() {
    return TestDatabase.h2();
  }
}
