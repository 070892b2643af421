package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.tollgate.billing.BillingMode;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Period;
import io.tollgate.gateway.catalog.Prices;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.Sku;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import io.tollgate.gateway.catalog.TestDatabases;
import io.tollgate.gateway.testing.NettyLeaks;
import io.tollgate.metering.quota.JdbcQuotaPool;
import io.tollgate.metering.quota.QuotaLeases;
import io.tollgate.metering.usage.Dialect;
import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent.Outcome;
import io.tollgate.metering.usage.UsageExtractor;
import io.tollgate.metering.usage.UsageExtractors;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A call's admission and accounting against real quota leases (an H2 quota pool), and its token
 * estimate on the estimate pool.
 */
class CallMeteringEstimatesTest {

  static final String CHAT = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"count these words\"}]}";
  static final String ANSWER = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
      + "\"content\":\"three words here\"}}]}";

  final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  final List<AutoCloseable> closing = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closing) {
      c.close();
    }
    assertThat(NettyLeaks.collect()).as("every prompt handed to an estimate is released").isEmpty();
  }

  static SubscriptionSnapshot snapshot(BillingMode mode, Long quota, String tokenizer) {
    Instant now = Instant.now();
    Product product = new Product("p-" + UUID.randomUUID(), "m-1", "p", Protocol.OPENAI,
        List.of(new Endpoint("http://127.0.0.1:1", 1, Map.of())), null, null, null, null, null, tokenizer, null, now);
    Sku sku = new Sku("sku-" + UUID.randomUUID(), product.id(), "s", Map.of(), List.of(), mode,
        new Prices(now, "USD", null, null, null, quota == null ? null : BigDecimal.ONE), quota,
        quota == null ? null : Period.MONTH, null, null, Map.of(), now);
    Subscription sub = new Subscription("sub-" + UUID.randomUUID(), sku.id(), "b1", "Buyer", SubscriptionStatus.ACTIVE,
        false, now, now, null, quota);
    return new SubscriptionSnapshot(sub, sku, product);
  }

  static CallMetering.Decision resolved(CallMetering.Decision d) throws Exception {
    while (d instanceof CallMetering.Pending p) {
      d = p.decision().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    return d;
  }

  static UsageExtractor answeredWithoutUsage() {
    UsageExtractor x = UsageExtractors.create(Dialect.OPENAI, /* stream= */ false);
    ByteBuf answer = PooledByteBufAllocator.DEFAULT.buffer().writeBytes(ANSWER.getBytes(StandardCharsets.UTF_8));
    x.feed(answer);
    answer.release();
    return x;
  }

  static ByteBuf prompt() {
    return PooledByteBufAllocator.DEFAULT.buffer().writeBytes(CHAT.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void admittedCall_releasedTwice_givesItsReservationBackOnce() throws Exception {
    TestDatabases.Db db = TestDatabases.h2();
    closing.add(db::drop);
    JdbcDataSource ds = new JdbcDataSource();
    ds.setURL(db.url());
    ds.setUser(db.user());
    ExecutorService refills = Executors.newSingleThreadExecutor();
    closing.add(refills::shutdownNow);
    QuotaLeases calls = new QuotaLeases(new JdbcQuotaPool(ds, "t_").migrate(), refills, 10, Duration.ofMinutes(1),
        Clock.systemUTC(), registry);
    CallMetering metering = new CallMetering(null, calls, null, registry);
    closing.add(metering);
    SubscriptionSnapshot snap = snapshot(BillingMode.CALL_PACKAGE, 2L, null);

    CallMetering.Decision first = resolved(metering.admit(snap, 10));
    CallMetering.Decision second = resolved(metering.admit(snap, 10));
    assertThat(first).isInstanceOf(CallMetering.Admitted.class);
    assertThat(second).isInstanceOf(CallMetering.Admitted.class);
    assertThat(resolved(metering.admit(snap, 10))).as("a package of 2 calls").isInstanceOf(CallMetering.Refused.class);

    ((CallMetering.Admitted) first).release();
    ((CallMetering.Admitted) first).settle(/* billable= */ false, TokenUsage.ZERO);

    assertThat(resolved(metering.admit(snap, 10))).as("the released call's place").isInstanceOf(CallMetering.Admitted.class);
    assertThat(resolved(metering.admit(snap, 10))).as("a second settlement of one call gives nothing back")
        .isInstanceOf(CallMetering.Refused.class);
  }

  @Test
  void estimatesPastTheQueue_areMadeFromSizesAtOnce_andNoUsageIsDropped() throws Exception {
    CallMetering metering = new CallMetering(null, null, null, registry);
    closing.add(metering);
    SubscriptionSnapshot snap = snapshot(BillingMode.PER_TOKEN, null, null);
    CountDownLatch hold = new CountDownLatch(1);
    ConcurrentLinkedQueue<TokenUsage> estimated = new ConcurrentLinkedQueue<>();
    int capacity = CallMetering.ESTIMATE_THREADS + CallMetering.ESTIMATE_QUEUE;
    for (int i = 0; i < capacity; i++) {
      // The workers' first estimates block in their callbacks: the rest wait in the queue.
      metering.estimate(snap, Outcome.COMPLETED, answeredWithoutUsage(), prompt(), usage -> {
        try {
          hold.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        estimated.add(usage);
      });
    }
    ByteBuf overflow = prompt();
    List<TokenUsage> inline = new ArrayList<>();

    metering.estimate(snap, Outcome.COMPLETED, answeredWithoutUsage(), overflow, inline::add);

    assertThat(inline).as("a full pool: estimated at once, on the caller's thread").singleElement().satisfies(u -> {
      assertThat(u.estimated()).isTrue();
      assertThat(u.inputTokens()).as("bytes / 4").isEqualTo(CHAT.length() / 4);
      assertThat(u.outputTokens()).as("characters / 4, rounded up").isEqualTo(("three words here".length() + 3) / 4);
    });
    assertThat(overflow.refCnt()).as("the prompt is released once read").isZero();
    assertThat(registry.counter("tollgate.usage.estimate.fallback").count()).isEqualTo(1);
    hold.countDown();
    Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> estimated.size() == capacity);
    assertThat(estimated).as("every queued estimate was made with the tokenizer").allSatisfy(u -> {
      assertThat(u.estimated()).isTrue();
      assertThat(u.outputTokens()).isEqualTo(3);
    });
    assertThat(metering.pendingEstimates()).isZero();
  }

  @Test
  void estimateWithAnEncodingTheTokenizerLacks_fallsBackToSizes() throws Exception {
    CallMetering metering = new CallMetering(null, null, null, registry);
    closing.add(metering);
    // The admin API accepts p50k_base; the estimator has only cl100k_base and o200k_base.
    SubscriptionSnapshot snap = snapshot(BillingMode.PER_TOKEN, null, "p50k_base");
    ConcurrentLinkedQueue<TokenUsage> estimated = new ConcurrentLinkedQueue<>();

    metering.estimate(snap, Outcome.BUYER_ABORTED, answeredWithoutUsage(), prompt(), estimated::add);

    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !estimated.isEmpty());
    assertThat(estimated.peek()).isEqualTo(new TokenUsage(CHAT.length() / 4, 0, 4, /* estimated= */ true));
  }
}
