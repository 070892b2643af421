package io.tollgate.gateway.licence;

import io.tollgate.billing.BillingMode;
import io.tollgate.gateway.Gateway;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.CatalogRepository;
import io.tollgate.gateway.catalog.Period;
import io.tollgate.gateway.catalog.Prices;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.PurchaseChoices;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.config.GatewayConfig;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * The load figure of the licence API (not part of CI: a main, run by hand): heartbeats a second
 * on one instance with 100,000 active machines (1,000 codes of 100 seats), and the database writes
 * a second they cause. Drives the licence service the buyer port calls ({@code answer}: JSON in,
 * code lookup through the subscription cache, the seen store, the Ed25519 signature, JSON out) from
 * 4 threads for 30 s, every machine in turn; HTTP and Netty are not in the figure.
 *
 * <p>Run (PostgreSQL on 127.0.0.1:5432, and Redis on 6379 with {@code redis}):
 *
 * <pre>
 * mvn -q -o -pl gateway-core -am test-compile
 * mvn -q -o -pl gateway-core exec:java -Dexec.classpathScope=test \
 *   -Dexec.mainClass=io.tollgate.gateway.licence.LicenceHeartbeatLoad [-Dexec.args=redis]
 * </pre>
 */
public final class LicenceHeartbeatLoad {

  static final int CODES = 1_000;
  static final int SEATS = 100;
  static final int THREADS = 4;
  static final Duration RUN = Duration.ofSeconds(30);

  public static void main(String[] args) throws Exception {
    boolean redis = args.length > 0 && args[0].equals("redis");
    TestDatabases.Db db = TestDatabases.postgres();
    var dir = Files.createTempDirectory("licence-load");
    GatewayConfig config = new GatewayConfig(new GatewayConfig.Server("127.0.0.1", 0, 1, null, null, null),
        new GatewayConfig.Admin("127.0.0.1", 0, "load-operator-token-0123456789"),
        new GatewayConfig.Store(dir.toString(), db.url(), db.user(), null, redis ? "redis://127.0.0.1:6379" : null),
        null, null).withLicence(new GatewayConfig.Licence(100_000, null));
    try (Gateway g = Gateway.start(config)) {
      CatalogRepository repo = g.catalog();
      String merchant = repo.createMerchant("load").merchant().id();
      Product p = repo.createProduct(new Product(ApiKeys.newId("prod"), merchant, "Load CAD", Protocol.LICENCE,
          List.of(), null, null, null, List.of(), null, null, null, null, null, new Product.LicenceTerms(null, null)));
      Sku sku = repo.createSku(new Sku(ApiKeys.newId("sku"), p.id(), "seat", Map.of(), List.of(), BillingMode.PERIOD,
          new Prices(Instant.now(), "USD", null, null, null, new BigDecimal("10")), null, Period.MONTH, null, null,
          Map.of("users", new Sku.QuantityRange(1, 1000)), null));
      List<String> codes = new ArrayList<>();
      List<String> subs = new ArrayList<>();
      for (int i = 0; i < CODES; i++) {
        var issued = repo.createSubscription(sku.id(), "buyer-" + i, null, /* test= */ true,
            new PurchaseChoices(Map.of(), Map.of("users", (long) SEATS)));
        codes.add(issued.apiKey());
        subs.add(issued.subscription().id());
      }
      // 100,000 machines activated a minute ago, inserted in bulk (activation is not what is measured)
      OffsetDateTime at = OffsetDateTime.now(ZoneOffset.UTC).minusMinutes(1);
      try (Connection c = DriverManager.getConnection(db.url(), db.user(), null);
          var ps = c.prepareStatement("INSERT INTO licence_machines (subscription_id, fingerprint, hostname,"
              + " activated_at, last_seen_at) VALUES (?, ?, NULL, ?, ?)")) {
        c.setAutoCommit(false);
        for (String sub : subs) {
          for (int m = 0; m < SEATS; m++) {
            ps.setString(1, sub);
            ps.setString(2, "fp-" + m);
            ps.setObject(3, at);
            ps.setObject(4, at);
            ps.addBatch();
          }
          ps.executeBatch();
        }
        c.commit();
      }
      byte[][] bodies = new byte[CODES * SEATS][];
      for (int i = 0; i < bodies.length; i++) {
        bodies[i] = ("{\"code\":\"" + codes.get(i % CODES) + "\",\"fingerprint\":\"fp-" + (i / CODES)
            + "\",\"nonce\":\"n" + i + "\"}").getBytes(StandardCharsets.UTF_8);
      }
      LicenceService licence = g.licence();
      System.out.println("warming: one heartbeat per machine (loads each code's machines into the seen store once)");
      int ok = 0;
      for (byte[] body : bodies) {
        ok += licence.answer("POST", "/licence/v1/heartbeat", body).join().status() == 200 ? 1 : 0;
      }
      System.out.println("warm: " + ok + " of " + bodies.length + " machines answered 200");
      licence.flushLastSeen();
      double writesBefore = g.registry().get("tollgate.licence.last.seen.writes").counter().count();
      double batchesBefore = g.registry().get("tollgate.licence.last.seen.batches").counter().count();

      LongAdder done = new LongAdder();
      LongAdder failed = new LongAdder();
      AtomicBoolean stop = new AtomicBoolean();
      CountDownLatch finished = new CountDownLatch(THREADS);
      long t0 = System.nanoTime();
      for (int t = 0; t < THREADS; t++) {
        int offset = t * (bodies.length / THREADS);
        new Thread(() -> {
          int i = offset;
          while (!stop.get()) {
            var a = licence.answer("POST", "/licence/v1/heartbeat", bodies[i++ % bodies.length]).join();
            (a.status() == 200 ? done : failed).increment();
          }
          finished.countDown();
        }).start();
      }
      Thread.sleep(RUN.toMillis());
      stop.set(true);
      finished.await();
      double seconds = (System.nanoTime() - t0) / 1e9;
      licence.flushLastSeen(); // the batch the periodic task would write next
      double writes = g.registry().get("tollgate.licence.last.seen.writes").counter().count() - writesBefore;
      double batches = g.registry().get("tollgate.licence.last.seen.batches").counter().count() - batchesBefore;
      System.out.printf("store: PostgreSQL + %s seen store; %d active machines on %d codes%n",
          redis ? "Redis" : "in-memory", bodies.length, CODES);
      System.out.printf("heartbeats: %d ok, %d refused in %.1f s = %.0f heartbeats/s (%d threads)%n",
          done.sum(), failed.sum(), seconds, done.sum() / seconds, THREADS);
      System.out.printf("database: %.0f row writes in %.0f batches = %.0f rows/s, %.2f batch statements/s"
          + " (one row per machine per batch, whatever its heartbeats; at licence.flushInterval 30 s at most"
          + " %d machines / 30 s = %.0f rows/s)%n",
          writes, batches, writes / seconds, batches / seconds, bodies.length, bodies.length / 30.0);
    } finally {
      db.drop();
    }
  }
}
