package io.tollgate.gateway.licence;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.billing.BillingMode;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Period;
import io.tollgate.gateway.catalog.Prices;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.PurchaseChoices;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.TestClock;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.metering.health.TaskHealth;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.math.BigDecimal;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.sql.DataSource;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * The last-seen batch survives its database failing: the failure shows in the task's health and
 * metric, nothing pending is lost, and the batch is written once the database answers again.
 */
class LastSeenWriterTest {

  @Test
  void failingDatabase_isVisibleInTaskHealth_andThePendingTimesAreWrittenOnceItAnswers() throws Exception {
    TestDatabases.Db db = TestDatabases.h2();
    TestClock clock = new TestClock(Instant.now().truncatedTo(ChronoUnit.MILLIS));
    try (CatalogRepository repo = CatalogRepository.open(db.url(), db.user(), "", clock)) {
      String merchant = repo.createMerchant("m").merchant().id();
      Product p = repo.createProduct(new Product(ApiKeys.newId("prod"), merchant, "CAD", Protocol.LICENCE, List.of(),
          null, null, null, List.of(), null, null, null, null, null, new Product.LicenceTerms(null, null)));
      Sku sku = repo.createSku(new Sku(ApiKeys.newId("sku"), p.id(), "seat", Map.of(), List.of(), BillingMode.PERIOD,
          new Prices(clock.instant(), "USD", null, null, null, BigDecimal.ONE), null, Period.MONTH, null, null,
          Map.of(), null));
      String sub = repo.createSubscription(sku.id(), "b", null, /* test= */ true, PurchaseChoices.NONE)
          .subscription().id();

      AtomicBoolean broken = new AtomicBoolean();
      DataSource real = repo.dataSource();
      DataSource flaky = (DataSource) Proxy.newProxyInstance(getClass().getClassLoader(),
          new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
            if (broken.get() && method.getName().equals("getConnection")) {
              throw new SQLException("database down (test)");
            }
            try {
              return method.invoke(real, args);
            } catch (InvocationTargetException e) {
              throw e.getCause();
            }
          });
      Machines machines = new Machines(flaky, new LocalSeenTimes());
      long now = clock.millis();
      machines.activate(sub, "fp-1", null, now, now - 10_000, 1);
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      TaskHealth health = new TaskHealth(clock, registry);
      try (LastSeenWriter writer = new LastSeenWriter(machines, clock, Duration.ofMillis(50), health, registry)) {
        broken.set(true);
        writer.seen(new MachineKey(sub, "fp-1"), now + 5_000);
        writer.start();
        TaskHealth.Task task = health.task(LastSeenWriter.TASK, null);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> task.status().failures() >= 2);
        assertThat(task.status().state()).isEqualTo(TaskHealth.State.FAILING);
        assertThat(registry.get("tollgate.task.failures").tag("task", LastSeenWriter.TASK).counters())
            .as("the failures are counted").anySatisfy(c -> assertThat(c.count()).isGreaterThanOrEqualTo(2));

        broken.set(false);
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> task.status().state() == TaskHealth.State.OK);
        long written = machines.list(sub).get(0).lastSeen();
        assertThat(written).isEqualTo(now + 5_000);
        assertThat(registry.get("tollgate.licence.last.seen.writes").counter().count())
            .as("the batch kept through the failures was written once").isEqualTo(1.0);
      }
    } finally {
      db.drop();
    }
  }
}
