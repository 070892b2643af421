package io.tollgate.billing;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;

/** The lease row on H2 and on PostgreSQL, expiring by a clock the test moves. */
class JdbcExportLeaseTest {

  abstract static class OnDatabase extends ExportLeaseContract {

    final MovableClock clock = new MovableClock(Instant.parse("2026-12-01T10:00:00Z"));
    TestDatabase db;

    abstract TestDatabase newDatabase();

    @BeforeEach
    void open() {
      db = newDatabase();
      new RecordLedger(db.dataSource(), clock, new SimpleMeterRegistry()).migrate();
    }

    @AfterEach
    void close() {
      db.close();
    }

    @Override
    ExportLease lease(String holder) {
      return new JdbcExportLease(db.dataSource(), "export", holder, ttl(), clock);
    }

    @Override
    Duration ttl() {
      return Duration.ofSeconds(30);
    }

    @Override
    void passTime(Duration d) {
      clock.advance(d);
    }
  }

  @Nested
  class H2 extends OnDatabase {
    @Override
    TestDatabase newDatabase() {
      return TestDatabase.h2();
    }
  }

  @Nested
  class Postgres extends OnDatabase {
    @Override
    TestDatabase newDatabase() {
      return TestDatabase.postgres();
    }
  }
}
