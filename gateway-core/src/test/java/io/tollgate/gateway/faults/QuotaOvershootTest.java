package io.tollgate.gateway.faults;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.gateway.Gateway;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.faults.BuyerLoad.Api;
import io.tollgate.gateway.faults.BuyerLoad.Buyer;
import io.tollgate.gateway.faults.BuyerLoad.Totals;
import io.tollgate.gateway.mock.MockUpstream;
import io.tollgate.metering.testing.PrivateRedis;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A small TOKEN_PACKAGE under concurrent calls, on one gateway and on two sharing one (private)
 * Redis: the package is consumed to within the bound {@code QuotaLeases} documents, refused calls
 * get {@code 429 insufficient_quota} and never reach the upstream, and what was served is metered
 * exactly.
 *
 * <h2>The bound, for these numbers</h2>
 *
 * {@code QuotaLeases}: consumption never exceeds {@code quota + Σ over instances of the overruns
 * (actual − estimate) of calls in flight when that instance's lease and the pool ran out}. Here:
 *
 * <ul>
 *   <li>one call costs at most {@link #MAX_CALL} = 10 prompt words + 3 for its one message + 24
 *       {@code max_tokens} = 37 tokens (the mock answers exactly {@code max_tokens}); an estimate
 *       is never negative, so one call's overrun is at most 37, whatever the gateway estimates;
 *   <li>the buyers keep {@link #CONCURRENCY} = 8 calls in flight in all, however they are spread
 *       over the instances ({@code instances × calls in flight per instance} = 1 × 8 or 2 × 4);
 * </ul>
 *
 * so consumption ≤ 2,000 + 8 × 37 = <b>2,296</b> tokens. A gateway without a quota check, or one
 * that admits on "lease > 0" with a chunk of a few hundred tokens per instance, goes past it.
 *
 * <p>Undershoot: an instance refuses only when its lease cannot cover a call's estimate and the
 * pool is dry, so each instance strands less than one estimate. Allowing an estimate of up to
 * twice {@link #MAX_CALL} (a real tokenizer may split the mock's words), the buyer gets at least
 * {@code 2,000 − instances × 74} tokens.
 */
class QuotaOvershootTest {

  static final long QUOTA = 2_000;
  static final int CONCURRENCY = 8;
  /** Prompts of 5..10 words (+3 per message), max_tokens 12..24: 20..37 tokens a call. */
  static final BuyerLoad.Options CALLS = BuyerLoad.Options.defaults().withConcurrency(CONCURRENCY)
      .withSizes(5, 10, 12, 24).stoppingOnQuotaRefusal();
  static final int MAX_CALL = CALLS.maxCallTokens();
  static final long OVERSHOOT_BOUND = (long) CONCURRENCY * MAX_CALL;

  @TempDir Path dir;
  Vertx vertx;
  MockUpstream mock;
  final List<AutoCloseable> resources = new ArrayList<>();
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeEach
  void startMock() {
    vertx = Vertx.vertx();
    mock = MockUpstream.start(vertx, MockUpstream.Options.defaults().withLogCapacity(0)).await();
  }

  @AfterEach
  void stopAll() throws Exception {
    for (int i = resources.size() - 1; i >= 0; i--) {
      resources.get(i).close();
    }
    mock.close().await();
    vertx.close().await();
  }

  /**
   * {@code leaseChunk} is {@code metering.quotaLeaseTokens}: the default (20,000) leases the whole
   * package to the first instance that asks; 300 makes instances come back to the shared pool
   * several times, so two of them compete for it.
   */
  @ParameterizedTest(name = "{0} instance(s), quota pool: {1}, lease chunk: {2}")
  @CsvSource({"1, embedded, default", "1, redis, 300", "2, redis, 300"})
  void tokenPackageUnderConcurrentCalls_overshootStaysWithinInFlightBound_andRefusedCallsNeverReachUpstream(
      int instances, String pool, String leaseChunk) throws Exception {
    List<Gateway> gateways = start(instances, pool, leaseChunk);
    AdminClient admin = new AdminClient(http, gateways.get(0).adminPort());
    String merchant = admin.merchant("acme");
    String product = admin.product(merchant, "Acme Chat", "openai", mock.baseUrl());
    Buyer buyer = admin.subscribe(admin.sku(merchant, product, "mock-gpt", AdminClient.tokenPackage(QUOTA)),
        "buyer-package", Api.OPENAI_CHAT);
    List<Integer> ports = gateways.stream().map(Gateway::buyerPort).toList();

    BuyerLoad load = new BuyerLoad(http, List.of(buyer), ports, CALLS);
    resources.add(load);
    load.awaitAllStopped(Duration.ofSeconds(20)); // each buyer thread stops at its first refusal

    Totals received = load.receivedInAll();
    System.out.printf("quota %d on %d instance(s), pool %s: served %s (%d tokens), refused %d, bound %d%n",
        QUOTA, instances, pool, received, received.totalTokens(), load.refused(), QUOTA + OVERSHOOT_BOUND);
    assertThat(load.unexpected()).as("every call is served (200) or refused with 429 insufficient_quota")
        .isEmpty();
    assertThat(load.refused()).as("each buyer thread was refused once the package ran out").isEqualTo(CONCURRENCY);
    assertThat(received.totalTokens())
        .as("tokens served %s may exceed the quota %d by at most %d calls in flight × %d tokens = %d",
            received, QUOTA, CONCURRENCY, MAX_CALL, OVERSHOOT_BOUND)
        .isLessThanOrEqualTo(QUOTA + OVERSHOOT_BOUND);
    assertThat(received.totalTokens())
        .as("the buyer gets its package: at most one estimate (<= %d) stranded per instance", 2 * MAX_CALL)
        .isGreaterThanOrEqualTo(QUOTA - (long) instances * 2 * MAX_CALL);
    assertThat(mock.requestCount()).as("refused calls never reach the upstream; served ones once each")
        .isEqualTo(received.calls());

    for (Gateway g : gateways) {
      assertThat(new AdminClient(http, g.adminPort()).metricSum("tollgate_requests_total", "status=\"200\""))
          .as("with a %s lease chunk every instance finds quota in the shared pool at its first call; one that"
              + " served nothing refused calls with insufficient_quota while the package still had quota", leaseChunk)
          .isPositive();
    }
    MeteredUsage.assertEqualsReceived(admin, load, List.of(buyer));
    JsonObject sub = admin.subscription(buyer.subscriptionId());
    // Remaining is what admission can still grant (the pool and the answering instance's lease):
    // leases other instances still hold are not counted, at most 1/16 of the quota each.
    assertThat(sub.getLong("remaining")).as("remaining of %s", sub)
        .isLessThanOrEqualTo(Math.max(0, QUOTA - received.totalTokens()))
        .isGreaterThanOrEqualTo(Math.max(0, QUOTA - received.totalTokens() - (long) (instances - 1) * (QUOTA / 16)));
  }

  /**
   * Two instances meet a fresh package at the same moment: both lease from the shared pool for
   * the first time at once. The package holds {@value #QUOTA} tokens and each instance asks for
   * 300, so every one of these first calls must be served; a 429 here refuses a buyer whose
   * package is untouched. Ten subscriptions give the race ten chances.
   */
  @Test
  void twoInstances_firstCallsOfAFreshPackageAtOnce_areAllServed() throws Exception {
    List<Gateway> gateways = start(2, "redis", "300");
    AdminClient admin = new AdminClient(http, gateways.get(0).adminPort());
    String merchant = admin.merchant("acme");
    String product = admin.product(merchant, "Acme Chat", "openai", mock.baseUrl());
    String sku = admin.sku(merchant, product, "mock-gpt", AdminClient.tokenPackage(QUOTA));
    List<Buyer> buyers = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      buyers.add(admin.subscribe(sku, "buyer-" + i, Api.OPENAI_CHAT));
    }
    String body = "{\"model\":\"mock-gpt\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
    List<String> refusals = new CopyOnWriteArrayList<>();
    for (Buyer b : buyers) {
      // Two calls per instance, released together on a barrier.
      CyclicBarrier barrier = new CyclicBarrier(4);
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        Gateway g = gateways.get(t % 2);
        threads.add(start(() -> {
          try {
            HttpRequest request = HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + g.buyerPort() + "/v1/chat/completions"))
                .header("authorization", "Bearer " + b.apiKey()).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
            barrier.await();
            HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
              refusals.add(b.subscriptionId() + " on instance " + gateways.indexOf(g) + ": " + r.statusCode() + " " + r.body());
            }
          } catch (Exception e) {
            refusals.add(b.subscriptionId() + ": " + e);
          }
        }));
      }
      for (Thread t : threads) {
        t.join(20_000);
      }
    }
    assertThat(refusals).as("first calls of untouched %d-token packages, 4 at once over 2 instances", QUOTA).isEmpty();
  }

  private static Thread start(Runnable r) {
    Thread t = new Thread(r, "first-call");
    t.start();
    return t;
  }

  private List<Gateway> start(int instances, String pool, String leaseChunk) throws Exception {
    String jdbcUrl = null;
    String jdbcUser = null;
    if (instances > 1) {
      TestDatabases.Db db = TestDatabases.postgres(); // the instances share the catalog
      resources.add(db::drop);
      jdbcUrl = db.url();
      jdbcUser = db.user();
    }
    PrivateRedis redis = null;
    if (pool.equals("redis")) {
      redis = new PrivateRedis();
      resources.add(redis);
    }
    List<Gateway> gateways = new ArrayList<>();
    for (int i = 0; i < instances; i++) {
      GatewayYaml yaml = GatewayYaml.embedded(dir.resolve("data-" + i));
      if (jdbcUrl != null) {
        yaml.jdbc(jdbcUrl, jdbcUser);
      }
      if (redis != null) {
        yaml.redis(redis.uri());
      }
      if (!leaseChunk.equals("default")) {
        yaml.metering("quotaLeaseTokens", leaseChunk);
      }
      Gateway g = Gateway.start(yaml.load(dir.resolve("tollgate-" + i + ".yaml")));
      resources.add(g);
      gateways.add(g);
    }
    return gateways;
  }
}
