package io.tollgate.billing;

/** The ledger on H2 in its own mode, where a bare NUMERIC would round amounts to integers. */
class H2RegularModeRecordLedgerTest extends RecordLedgerContract {

  @Override
  TestDatabase newDatabase() {
    return TestDatabase.h2RegularMode();
  }
}
