package io.tollgate.metering.quota;

import io.tollgate.metering.testing.Services;

class H2QuotaLeasesTest extends QuotaLeasesContract {

  @Override
  QuotaPool createPool() {
    return new JdbcQuotaPool(Services.h2(), "tg_").migrate();
  }

  @Override
  void dropPool() {}
}
