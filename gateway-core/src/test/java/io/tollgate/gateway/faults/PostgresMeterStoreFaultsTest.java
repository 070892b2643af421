package io.tollgate.gateway.faults;

import io.tollgate.metering.testing.PrivatePostgres;

/**
 * {@link MeterStoreOutageContract} with PostgreSQL as the meter store, as in production without
 * Redis: catalog and counters in a private PostgreSQL ({@code JdbcMeterStore} on the catalog's
 * pool) that the test SIGKILLs (a crash: the restart runs WAL recovery) or keeps down. Buyers
 * keep being served from the subscription cache; the journal holds their usage until the
 * database is back.
 */
class PostgresMeterStoreFaultsTest extends MeterStoreOutageContract {

  PrivatePostgres postgres;

  @Override
  GatewayYaml startStore(GatewayYaml yaml) throws Exception {
    postgres = new PrivatePostgres();
    return yaml.jdbc(postgres.jdbcUrl(), PrivatePostgres.USER);
  }

  @Override
  void killStore() throws Exception {
    postgres.kill();
  }

  @Override
  void restartStore() throws Exception {
    postgres.start();
  }

  @Override
  boolean storeAnswers() {
    return postgres.accepting();
  }

  @Override
  void closeStore() throws Exception {
    if (postgres != null) {
      postgres.close();
    }
  }
}
