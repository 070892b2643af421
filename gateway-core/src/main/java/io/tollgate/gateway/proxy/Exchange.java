package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.ScheduledFuture;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.metering.usage.TokenUsage;
import io.tollgate.metering.usage.UsageEvent;
import io.tollgate.metering.usage.UsageEvent.Outcome;
import io.tollgate.metering.usage.ExtractorOptions;
import io.tollgate.metering.usage.SseUsageChunkFilter;
import io.tollgate.metering.usage.UsageExtractor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * One buyer call forwarded to one upstream endpoint, from acquiring a pooled backend connection to
 * the last byte of the answer.
 *
 * <p>Confined to the buyer channel's event loop; the backend channel is registered on the same
 * loop (see {@link BackendPools}), so no field needs a lock.
 *
 * <p>Guarantees: the response's {@code HttpContent}s are passed on as they arrive, never
 * aggregated or copied; the usage event is recorded before the last content is written to the
 * buyer; exactly one of {@link #complete}, {@link #fail}, {@link #abort} ends an exchange, and it
 * ends it once ({@code ended}); a backend connection goes back to its pool only after a whole
 * response was read from it on a keep-alive connection, otherwise it is closed.
 *
 * <p>A request written to a reused keep-alive connection that the upstream had closed in the
 * meantime fails before any response byte; that race is retried once on another connection, as
 * nginx's {@code proxy_next_upstream error} does.
 */
final class Exchange {

  private static final Logger log = LoggerFactory.getLogger(Exchange.class);

  private static final AttributeKey<Boolean> REUSED = AttributeKey.valueOf("tollgate.reused");
  private static final int MAX_ATTEMPTS = 2;

  private final BuyerHandler buyer;
  private final ChannelHandlerContext ctx;
  private final ProxyServices services;
  private final SubscriptionSnapshot snapshot;
  private final Endpoint endpoint;
  private final EndpointHealth health;
  private final OriginPool pool;
  private final FullHttpRequest upstreamRequest;
  private final UUID requestId;
  private final boolean buyerKeepAlive;
  private final long startNanos;
  private final long responseTimeoutNanos;
  private final long reserved;
  private final long estimatedTokens;
  private final boolean stripUsageChunk;

  private Channel backend;
  private boolean backendReused;
  private int attempts;
  private HttpResponse head;
  private int status;
  private boolean backendKeepAlive;
  private UsageExtractor extractor;
  private SseUsageChunkFilter usageChunkFilter;
  private boolean ended;
  private long lastReadNanos;
  private ScheduledFuture<?> timer;

  Exchange(BuyerHandler buyer, ChannelHandlerContext ctx, ProxyServices services, SubscriptionSnapshot snapshot,
      Endpoint endpoint, EndpointHealth health, OriginPool pool, FullHttpRequest upstreamRequest, UUID requestId, boolean buyerKeepAlive,
      long startNanos, long reserved, long estimatedTokens, boolean stripUsageChunk) {
    this.buyer = buyer;
    this.ctx = ctx;
    this.services = services;
    this.snapshot = snapshot;
    this.endpoint = endpoint;
    this.health = health;
    this.pool = pool;
    this.upstreamRequest = upstreamRequest;
    this.requestId = requestId;
    this.buyerKeepAlive = buyerKeepAlive;
    this.startNanos = startNanos;
    this.responseTimeoutNanos = snapshot.product().responseTimeout().toNanos();
    this.reserved = reserved;
    this.estimatedTokens = estimatedTokens;
    this.stripUsageChunk = stripUsageChunk;
  }

  void start() {
    attempts++;
    pool.acquire().addListener((ChannelFutureListener) this::onAcquired);
  }

  private void onAcquired(ChannelFuture f) {
    if (ended) {
      if (f.isSuccess()) {
        pool.release(f.channel());
      }
      return;
    }
    if (!f.isSuccess()) {
      Throwable cause = f.cause();
      health.failed(endpoint);
      if (cause instanceof UpstreamRefusedException refused) {
        services.metrics().upstreamRefusals().record(snapshot.product().id(), endpoint.url(), refused);
        fail(ApiError.upstreamUnavailable());
        return;
      }
      log.warn("call {}: no connection to endpoint {} of product {}: {}", requestId, upstream(),
          snapshot.product().id(), describe(cause));
      fail(cause instanceof ConnectTimeoutException ? ApiError.upstreamTimeout() : ApiError.upstreamUnavailable());
      return;
    }
    Channel ch = f.channel();
    backend = ch;
    backendReused = ch.attr(REUSED).getAndSet(Boolean.TRUE) != null;
    ch.pipeline().get(BackendHandler.class).attach(this);
    lastReadNanos = System.nanoTime();
    if (timer == null) {
      timer = ctx.executor().schedule(this::checkTimeout, responseTimeoutNanos, TimeUnit.NANOSECONDS);
    }
    ch.writeAndFlush(upstreamRequest.retainedDuplicate()).addListener((ChannelFuture w) -> {
      if (!w.isSuccess() && !ended && w.channel() == backend && head == null) {
        retryOrFail("request could not be sent: " + describe(w.cause()));
      }
    });
  }

  /** A reused connection that dies before answering is retried once on another one. */
  private void retryOrFail(String why) {
    boolean reused = backendReused;
    Channel dead = backend;
    backend = null;
    if (dead != null) {
      dead.pipeline().get(BackendHandler.class).detach();
      dead.close();
    }
    if (reused && attempts < MAX_ATTEMPTS) {
      start();
    } else {
      log.warn("call {}: endpoint {} of product {}: {}", requestId, upstream(), snapshot.product().id(), why);
      fail(ApiError.badUpstreamResponse());
    }
  }

  /**
   * The upstream's answer broke HTTP/1.1 framing (see {@link BackendHandler}). Before the head went
   * to the buyer that is a 502; after, the buyer's connection is cut so it sees no clean end. Either
   * way the call is not billable and the backend connection is closed, never pooled: its decoder
   * has given up on it. Not retried: the upstream did receive the request.
   */
  void onBrokenResponse(Throwable cause) {
    if (ended) {
      return;
    }
    log.warn("call {}: endpoint {} of product {} sent a broken answer ({}): {}", requestId, upstream(),
        snapshot.product().id(), head == null ? "answered 502" : "buyer connection cut", describe(cause));
    if (head == null) {
      fail(ApiError.badUpstreamResponse());
    } else {
      abort(Outcome.UPSTREAM_FAILED);
    }
  }

  void onHead(HttpResponse response) {
    if (ended) {
      return;
    }
    head = response;
    status = response.status().code();
    health.answered(endpoint);
    lastReadNanos = System.nanoTime();
    backendKeepAlive = HttpUtil.isKeepAlive(response);
    HttpHeaders h = response.headers();
    boolean stream = isEventStream(h);
    Headers.stripHopByHop(h);
    if (!HttpUtil.isContentLengthSet(response) && !HttpUtil.isTransferEncodingChunked(response)) {
      // A close-delimited upstream body is sent to the buyer chunked, so the buyer's
      // connection can stay open.
      HttpUtil.setTransferEncodingChunked(response, true);
    }
    h.set(Headers.X_REQUEST_ID, requestId.toString());
    if (!buyerKeepAlive) {
      h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    List<String> pointers = snapshot.product().usagePointers();
    extractor = services.extractors().create(snapshot.product().protocol().dialect(), stream,
        pointers.isEmpty() ? ExtractorOptions.DEFAULTS
            : ExtractorOptions.DEFAULTS.withUsagePointers(pointers.toArray(String[]::new)));
    if (stripUsageChunk && stream && status >= 200 && status < 300) {
      usageChunkFilter = new SseUsageChunkFilter();
    }
    ctx.write(response, ctx.voidPromise());
  }

  void onContent(HttpContent content) {
    if (ended || head == null) {
      content.release();
      return;
    }
    lastReadNanos = System.nanoTime();
    extractor.feed(content.content());
    HttpContent out = usageChunkFilter == null ? content : stripUsageChunk(content);
    if (out instanceof LastHttpContent last) {
      complete(last);
      return;
    }
    ctx.write(out, ctx.voidPromise());
    if (!ctx.channel().isWritable()) {
      backend.config().setAutoRead(false);
    }
  }

  /**
   * Removes the usage chunk tollgate asked for on the buyer's behalf; the extractor has already
   * read it. The filter takes over the content's buffer.
   */
  private HttpContent stripUsageChunk(HttpContent content) {
    ByteBuf kept = usageChunkFilter.filter(content.content());
    if (content instanceof LastHttpContent last) {
      ByteBuf tail = usageChunkFilter.finish();
      usageChunkFilter = null;
      ByteBuf all = tail.isReadable() ? Unpooled.wrappedBuffer(kept, tail) : kept;
      if (!tail.isReadable()) {
        tail.release();
      }
      return new DefaultLastHttpContent(all, last.trailingHeaders());
    }
    return new DefaultHttpContent(kept);
  }

  void onReadComplete() {
    if (!ended && head != null) {
      ctx.flush();
    }
  }

  /** The buyer's channel drained; let the upstream's bytes flow again. */
  void onBuyerWritable() {
    if (!ended && backend != null) {
      backend.config().setAutoRead(true);
    }
  }

  private void complete(LastHttpContent last) {
    if (!account(status, Outcome.COMPLETED)) {
      // The usage could not be journaled: the buyer must not receive the end of an answer that
      // would go unbilled. Cut the connection; the call is not served.
      last.release();
      end(false);
      ctx.channel().close();
      return;
    }
    end(backendKeepAlive);
    boolean keepAlive = buyerKeepAlive;
    ctx.writeAndFlush(last).addListener((ChannelFuture f) -> buyer.exchangeEnded(keepAlive && f.isSuccess()));
  }

  /** Ends the exchange before any response head went to the buyer: the buyer gets {@code error}. */
  private void fail(ApiError error) {
    account(error.status(), Outcome.UPSTREAM_FAILED);
    end(false);
    buyer.sendError(error, requestId);
  }

  /** Ends the exchange after the head went out: the buyer's connection is cut, as the upstream's was. */
  private void abort(Outcome outcome) {
    account(status, outcome);
    end(false);
    if (outcome != Outcome.BUYER_ABORTED) {
      ctx.channel().close();
    }
  }

  void onBackendClosed() {
    if (ended) {
      return;
    }
    backend = null;
    if (head == null) {
      retryOrFail("connection closed before a response");
    } else {
      abort(Outcome.UPSTREAM_FAILED);
    }
  }

  /** The buyer went away; the upstream call is cancelled by closing its connection. */
  void onBuyerClosed() {
    if (ended) {
      return;
    }
    if (head == null) {
      account(499, Outcome.BUYER_ABORTED);
      end(false);
      return;
    }
    abort(Outcome.BUYER_ABORTED);
  }

  private void checkTimeout() {
    timer = null;
    if (ended) {
      return;
    }
    long idle = System.nanoTime() - lastReadNanos;
    if (idle < responseTimeoutNanos) {
      timer = ctx.executor().schedule(this::checkTimeout, responseTimeoutNanos - idle, TimeUnit.NANOSECONDS);
      return;
    }
    if (head == null) {
      fail(ApiError.upstreamTimeout());
    } else {
      abort(Outcome.UPSTREAM_FAILED);
    }
  }

  private void cancelTimer() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  /** Ends the exchange once: stops the timer, frees the backend and the request copy it kept. */
  private void end(boolean backendReusable) {
    ended = true;
    cancelTimer();
    upstreamRequest.release();
    if (usageChunkFilter != null) {
      usageChunkFilter.finish().release();
      usageChunkFilter = null;
    }
    Channel ch = backend;
    backend = null;
    if (ch == null) {
      return;
    }
    ch.pipeline().get(BackendHandler.class).detach();
    if (backendReusable && ch.isActive()) {
      ch.config().setAutoRead(true);
      pool.release(ch);
    } else {
      ch.close();
    }
  }

  /**
   * Records the call's usage event (journal, then aggregation) and settles its admission. Runs
   * before the request body is released: an estimate reads the prompt from it.
   *
   * @return false when the event could not be recorded
   */
  private boolean account(int httpStatus, Outcome outcome) {
    TokenUsage tokens = services.metering().usage(snapshot, outcome, httpStatus, extractor, upstreamRequest.content());
    UsageEvent event = new UsageEvent(requestId, snapshot.subscription().id(), snapshot.sku().id(),
        snapshot.product().id(), snapshot.product().merchantId(), snapshot.subscription().buyerId(),
        services.clock().millis(), httpStatus, outcome, tokens, snapshot.subscription().test());
    boolean recorded = true;
    try {
      services.recorder().record(event);
    } catch (RuntimeException e) {
      recorded = false;
      log.error("usage of call {} could not be recorded; the call is cut short: {}", requestId, e.toString());
    }
    services.metering().settle(snapshot, reserved, estimatedTokens, recorded && event.billable(), tokens);
    services.metrics().product(snapshot.product().id()).record(httpStatus, System.nanoTime() - startNanos);
    return recorded;
  }

  private static boolean isEventStream(HttpHeaders h) {
    String ct = h.get(HttpHeaderNames.CONTENT_TYPE);
    return ct != null && ct.regionMatches(true, 0, "text/event-stream", 0, 17);
  }

  /** Where the endpoint is, for the gateway's log only (never its URL: no path, query or user info). */
  private String upstream() {
    Origin o = Origin.of(endpoint.url());
    return o.host() + ":" + o.port();
  }

  /** An exception for a log line: its class and message, no stack. */
  private static String describe(Throwable t) {
    return t == null ? "unknown error" : t.toString();
  }
}
