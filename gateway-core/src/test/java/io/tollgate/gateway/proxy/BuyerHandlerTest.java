package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.tollgate.gateway.auth.SubscriptionCache;
import io.tollgate.metering.usage.UsageExtractors;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;

/**
 * The buyer handler's read path on an embedded channel, where the call in flight can be held
 * still: its key lookup completes only when the test runs the loader's task.
 */
class BuyerHandlerTest {

  static final long MAX_BODY = 1024;

  final ConcurrentLinkedQueue<Runnable> loaderTasks = new ConcurrentLinkedQueue<>();
  final ProxyServices services = new ProxyServices(
      new SubscriptionCache(h -> Optional.empty(), loaderTasks::add, Duration.ofMinutes(1), null),
      e -> { }, UsageExtractors::create,
      snap -> CompletableFuture.completedFuture(new byte[0]), new SimpleMeterRegistry(), null, null);
  final EmbeddedChannel channel = new EmbeddedChannel(new BuyerHandler(services, null, new Via(services.instanceId()), MAX_BODY, java.util.concurrent.TimeUnit.MINUTES.toNanos(1)));

  static HttpRequest post(String key) {
    HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v1/chat/completions");
    r.headers().set(HttpHeaderNames.AUTHORIZATION, "Bearer " + key).set(HttpHeaderNames.CONTENT_LENGTH, 2);
    return r;
  }

  static ByteBuf bytes(int n) {
    return Unpooled.buffer(n).writeZero(n);
  }

  /** Lets the key lookups finish (unknown keys) and the answers be written. */
  void finishLookups() {
    for (Runnable r; (r = loaderTasks.poll()) != null; ) {
      r.run();
    }
    channel.runPendingTasks();
  }

  List<FullHttpResponse> answers() {
    List<FullHttpResponse> all = new ArrayList<>();
    for (Object o; (o = channel.readOutbound()) != null; ) {
      all.add((FullHttpResponse) o);
    }
    return all;
  }

  /**
   * A key lookup that has already failed when the handler looks at it (the catalog's connection
   * was cut, and the load failed at once on a worker): the buyer gets the 503 a failure that
   * takes longer gets, not a connection closed unanswered. CI saw that, twice, during a catalog
   * outage.
   */
  @Test
  void aKeyLookupThatFailedAtOnce_isA503StoreUnavailable_notAConnectionClosedUnanswered() {
    ProxyServices failing = new ProxyServices(
        new SubscriptionCache(h -> {
          throw new IllegalStateException("catalog query failed: FATAL: terminating connection");
        }, Runnable::run, Duration.ofMinutes(1), null),
        e -> { }, UsageExtractors::create,
        snap -> CompletableFuture.completedFuture(new byte[0]), new SimpleMeterRegistry(), null, null);
    EmbeddedChannel ch = new EmbeddedChannel(new BuyerHandler(failing, null, new Via(failing.instanceId()), MAX_BODY,
        java.util.concurrent.TimeUnit.MINUTES.toNanos(1)));
    ch.writeInbound(post("k1"), new DefaultLastHttpContent(bytes(2)));
    ch.runPendingTasks();
    FullHttpResponse answer = ch.readOutbound();
    assertThat(answer).as("an answer was written").isNotNull();
    try {
      assertThat(answer.status().code()).isEqualTo(503);
      assertThat(answer.content().toString(java.nio.charset.StandardCharsets.UTF_8)).contains("\"code\":\"store_unavailable\"");
      assertThat(ch.isActive()).as("the connection stays open for the next call").isTrue();
    } finally {
      answer.release();
      ch.finishAndReleaseAll();
    }
  }

  @Test
  void bytesArrivingDuringACall_stopReading_untilItsAnswerHasEnded() {
    channel.writeInbound(post("k1"), new DefaultLastHttpContent(bytes(2)));
    assertThat(channel.config().isAutoRead()).as("nothing arrived during the call yet").isTrue();

    channel.writeInbound(post("k2"), new DefaultLastHttpContent(bytes(2)));
    assertThat(channel.config().isAutoRead()).as("a pipelined request stops reading").isFalse();

    finishLookups();
    finishLookups();
    List<FullHttpResponse> answers = answers();
    assertThat(answers).as("both requests answered, in order").hasSize(2)
        .allSatisfy(r -> assertThat(r.status().code()).isEqualTo(401));
    answers.forEach(FullHttpResponse::release);
    assertThat(channel.config().isAutoRead()).as("reading resumes once no call is in flight").isTrue();
    assertThat(channel.isActive()).isTrue();
    channel.finishAndReleaseAll();
  }

  @Test
  void pipelinedBytesBeyondOneHeadPlusMaxBody_areDropped_andTheConnectionClosesAfterTheAnswersBeforeThem() {
    channel.writeInbound(post("k1"), new DefaultLastHttpContent(bytes(2)));
    // A transport reads on with auto-read off only to the end of a half-closed input; whatever
    // comes then, at most one head plus maxBodyBytes waits. 100 requests of 512 bytes each:
    List<ByteBuf> sent = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      HttpRequest head = post("k2");
      head.headers().set(HttpHeaderNames.CONTENT_LENGTH, 512);
      ByteBuf b = bytes(512);
      sent.add(b);
      channel.writeInbound(head, new DefaultLastHttpContent(b));
    }
    long held = sent.stream().filter(b -> b.refCnt() > 0).mapToLong(ByteBuf::capacity).sum();
    assertThat(held).as("bytes waiting for the call in flight")
        .isLessThanOrEqualTo(BuyerHandler.HEAD_ALLOWANCE + MAX_BODY).isPositive();

    finishLookups(); // k1's answer, then the first k2 waits for its lookup
    finishLookups(); // the rest is answered from the cache, up to the bound
    List<FullHttpResponse> answers = answers();
    assertThat(answers).as("the call in flight and the requests queued within the bound are answered")
        .hasSizeBetween(2, 1 + (int) ((BuyerHandler.HEAD_ALLOWANCE + MAX_BODY) / 512))
        .allSatisfy(r -> assertThat(r.status().code()).isEqualTo(401));
    answers.forEach(FullHttpResponse::release);
    assertThat(channel.isActive()).as("then the connection closes; the rest was never read").isFalse();
    assertThat(sent).as("every dropped or queued buffer is released").allSatisfy(b -> assertThat(b.refCnt()).isZero());
    channel.finishAndReleaseAll();
  }
}
