package io.tollgate.metering.quota;

import io.tollgate.metering.testing.Services;

class PostgresQuotaLeasesTest extends QuotaLeasesContract {

  private final String schema = Services.uniquePrefix();

  @Override
  QuotaPool createPool() {
    return new JdbcQuotaPool(Services.postgresSchema(schema), "tg_").migrate();
  }

  @Override
  void dropPool() {
    Services.dropSchema(schema);
  }
}
