package io.tollgate.gateway.auth;

import static io.tollgate.gateway.auth.SubscriptionCacheTest.snapshot;
import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.KillArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Change notices between two instances over the real Redis on 127.0.0.1:6379, each test on its
 * own channel. Both instances read one catalog (a map), each through its own counting loader.
 */
class RedisCatalogChangesTest {

  static final List<String> KEYS = List.of("h1", "h2", "h3", "nope");

  final String channel = "tollgate:test:catalog-changes:" + UUID.randomUUID();
  final String clientName = "tollgate-test-" + UUID.randomUUID();
  final Map<String, SubscriptionSnapshot> catalog = new ConcurrentHashMap<>();
  final AtomicBoolean catalogDown = new AtomicBoolean();
  ClientResources resources;
  RedisClient redis;
  StatefulRedisConnection<String, String> raw;
  Instance a;
  Instance b;

  /** One gateway instance's cache and notices. */
  final class Instance {
    final AtomicInteger loads = new AtomicInteger();
    final SubscriptionCache cache = new SubscriptionCache(hash -> {
      loads.incrementAndGet();
      if (catalogDown.get()) {
        throw new IllegalStateException("catalog unreachable");
      }
      return Optional.ofNullable(catalog.get(hash));
    }, Runnable::run, Duration.ofSeconds(60), null);
    final RedisCatalogChanges changes;

    Instance(RedisClient client) {
      changes = new RedisCatalogChanges(client, channel, cache);
    }

    void lookUpAll() {
      for (String key : KEYS) {
        cache.lookup(key).join();
      }
    }

    SubscriptionStatus status(String key) {
      return cache.lookup(key).join().orElseThrow().subscription().status();
    }
  }

  @BeforeEach
  void start() {
    resources = DefaultClientResources.builder().reconnectDelay(Delay.constant(Duration.ofMillis(100))).build();
    redis = RedisClient.create(resources, RedisURI.Builder.redis("127.0.0.1", 6379).withClientName(clientName).build());
    raw = redis.connect();
    catalog.put("h1", snapshot("s1", "p1", SubscriptionStatus.ACTIVE));
    catalog.put("h2", snapshot("s2", "p1", SubscriptionStatus.ACTIVE));
    catalog.put("h3", snapshot("s3", "p2", SubscriptionStatus.ACTIVE));
    a = new Instance(redis);
    b = new Instance(redis);
    a.lookUpAll();
    b.lookUpAll();
    assertThat(b.loads).hasValue(4);
  }

  @AfterEach
  void stop() {
    a.changes.close();
    b.changes.close();
    raw.close();
    redis.shutdown();
    resources.shutdown();
  }

  @Test
  void suspensionOnOneInstance_reloadsOnlyThatKey_onTheOther() throws Exception {
    catalog.put("h1", snapshot("s1", "p1", SubscriptionStatus.SUSPENDED));

    a.changes.publish(CatalogChange.subscription("s1"));

    assertThat(a.status("h1")).as("the publishing instance is invalidated before publish returns")
        .isEqualTo(SubscriptionStatus.SUSPENDED);
    Awaitility.await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(10))
        .until(() -> b.status("h1") == SubscriptionStatus.SUSPENDED);
    b.lookUpAll();
    assertThat(b.loads).as("b reads s1's key again, and no other").hasValue(5);
    Thread.sleep(200); // a's own notice has long come back by now
    a.lookUpAll();
    assertThat(a.loads).as("a skips its own notice instead of reading s1's key twice").hasValue(5);
  }

  @Test
  void productChange_reloadsThatProductsKeysOnly_onTheOther() {
    a.changes.publish(CatalogChange.product("p1"));

    Awaitility.await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(10)).untilAsserted(() -> {
      b.lookUpAll();
      assertThat(b.loads).hasValue(6);
    });
    b.lookUpAll();
    assertThat(b.loads).as("h1 and h2 (p1) are read again; h3 (p2) and the unknown key are not").hasValue(6);
    assertThat(b.changes.rejectedNotices()).isZero();
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "changed",
      "{not json",
      "[\"s1\"]",
      "{\"from\":\"x\",\"subscriptionIds\":[\"s1\"]}",
      "{\"from\":\"x\",\"subscriptionIds\":[\"s1\"],\"productIds\":[],\"keyHashes\":[\"h3\"]}",
      "{\"from\":\"x\",\"subscriptionIds\":[1],\"productIds\":[]}",
      "{\"from\":\"x\",\"subscriptionIds\":[\"\"],\"productIds\":[]}",
      "{\"subscriptionIds\":[\"s1\"],\"productIds\":[]}",
      "{\"from\":\"x\",\"all\":\"yes\"}"})
  void malformedNotice_dropsEveryKnownKey_andIsCounted(String notice) {
    raw.sync().publish(channel, notice);

    Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> b.changes.rejectedNotices() == 1);
    b.lookUpAll();
    assertThat(b.loads).as("every key is read again, the safe default").hasValue(8);
    assertThat(a.changes.rejectedNotices()).isEqualTo(1);
  }

  @Test
  void oversizedNotice_dropsEveryKnownKey_andIsCounted() {
    raw.sync().publish(channel, "{\"from\":\"x\",\"subscriptionIds\":[\"" + "s".repeat(70_000) + "\"],\"productIds\":[]}");

    Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> b.changes.rejectedNotices() == 1);
    b.lookUpAll();
    assertThat(b.loads).hasValue(8);
  }

  @Test
  void changeTooLargeToName_isSentAsEverything_notAsAMalformedNotice() {
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 5_000; i++) {
      ids.add("sub_" + UUID.randomUUID());
    }

    a.changes.publish(new CatalogChange(ids, Set.of()));

    Awaitility.await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(10)).untilAsserted(() -> {
      b.lookUpAll();
      assertThat(b.loads).hasValue(8);
    });
    assertThat(b.changes.rejectedNotices()).isZero();
  }

  @Test
  void resubscribeWhileTheCatalogIsDown_keepsServingEveryCachedKey() {
    catalogDown.set(true);
    long size = b.cache.size();

    killOurConnections(); // Lettuce reconnects and resubscribes within 100 ms

    Awaitility.await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10))
        .until(() -> b.loads.get() == 7);
    assertThat(b.loads).as("each known key was tried again; the unknown key was not").hasValue(7);
    assertThat(b.cache.size()).as("nothing was dropped").isEqualTo(size);
    for (String key : List.of("h1", "h2", "h3")) {
      assertThat(b.cache.lookup(key)).as("%s answers from memory", key).isCompleted();
      assertThat(b.status(key)).isEqualTo(SubscriptionStatus.ACTIVE);
    }
    assertThat(b.loads).as("no call waited on the catalog").hasValue(7);
  }

  @Test
  void resubscribe_catchesUpWithAChangeWhoseNoticeWasLost() {
    catalog.put("h2", snapshot("s2", "p1", SubscriptionStatus.SUSPENDED)); // committed, notice lost

    killOurConnections();

    Awaitility.await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10))
        .until(() -> b.cache.lookup("h2").join().orElseThrow().subscription().status() == SubscriptionStatus.SUSPENDED);
    Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> b.loads.get() == 7);
    assertThat(b.status("h1")).isEqualTo(SubscriptionStatus.ACTIVE);
    assertThat(b.loads).as("refreshed in place: no key was read twice").hasValue(7);
  }

  /** Closes this test's instances' connections from the server side, as a Redis restart would. */
  void killOurConnections() {
    String own = "id=" + raw.sync().clientId() + " ";
    int killed = 0;
    for (String line : raw.sync().clientList().split("\n")) {
      if (line.startsWith("id=") && !line.startsWith(own) && line.contains(" name=" + clientName + " ")) {
        raw.sync().clientKill(KillArgs.Builder.id(Long.parseLong(line.substring(3, line.indexOf(' ')))));
        killed++;
      }
    }
    assertThat(killed).as("a's and b's subscriber and publisher connections").isEqualTo(4);
  }
}
