package io.tollgate.gateway.proxy;

import io.tollgate.gateway.api.ApiError;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.FutureListener;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.observe.CallSummary;
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
import java.util.concurrent.RejectedExecutionException;

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
 * ends it once ({@code ended}); every end accounts the call once ({@link #account}), which settles
 * its admission, so a call that is not billable gives its quota reservation back; a backend
 * connection goes back to its pool only after a whole response was read from it on a keep-alive
 * connection, otherwise it is closed.
 *
 * <p>A call whose tokens must be estimated (no usage reported, or the buyer left) is estimated
 * off the loop ({@link CallMetering#estimate}) on a retained copy of the prompt. A completed
 * call's last content waits for it: the worker hands the estimate back to this loop, which
 * records the event and only then writes the last content. An aborted call has nothing left to
 * send: its event is recorded on the worker as soon as the estimate is done.
 *
 * <p>A request written to a reused keep-alive connection that the upstream had closed in the
 * meantime fails before any response byte; that race is retried once on another connection, as
 * nginx's {@code proxy_next_upstream error} does.
 */
final class Exchange implements ChunkedRelay.Sink {

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
  /**
   * The request as forwarded: its head's parts (the headers are the buyer's, sanitised) and its
   * body, which the exchange owns; each attempt writes them as one message ({@link #sendable}).
   */
  private final HttpMethod method;
  private final String target;
  private final HttpHeaders headers;
  private final ByteBuf body;
  private final UUID requestId;
  private final boolean buyerKeepAlive;
  private final long startNanos;
  private final long responseTimeoutNanos;
  private final CallMetering.Admitted admitted;
  private final boolean stripUsageChunk;
  /** For the call's {@link CallSummary}: the buyer's path (no query) and model (or null). */
  private final String path;
  private final String model;

  private Future<Channel> acquiring;
  private Channel backend;
  private BackendHandler backendHandler; // backend's, looked up once per connection acquired
  private boolean backendReused;
  private int attempts;
  private HttpResponse head;
  private int status;
  private boolean backendKeepAlive;
  private UsageExtractor extractor;
  /** The upstream's head status, 0 before (or without) one. */
  private int upstreamStatus;
  /** From {@code startNanos} to the first readable answer body byte from the upstream; -1 before. */
  private long ttftNanos = -1;
  /** Answer body bytes handed to the buyer's connection. */
  private long bytesOut;
  private SseUsageChunkFilter usageChunkFilter;
  private boolean ended;
  // A completed call's end while its loop's turn ends (LoopEnds, io_uring), and its usage.
  private LastHttpContent queuedEnd;
  private TokenUsage endTokens;
  private boolean endBillable; // whether the call whose end was written is billable
  private long lastReadNanos;

  /**
   * @param target the request target as forwarded (the endpoint's path prefix included)
   * @param headers the request's headers as forwarded
   * @param body the request's body as forwarded; the exchange releases it when it ends
   */
  Exchange(BuyerHandler buyer, ChannelHandlerContext ctx, ProxyServices services, SubscriptionSnapshot snapshot,
      Endpoint endpoint, EndpointHealth health, OriginPool pool, HttpMethod method, String target, HttpHeaders headers,
      ByteBuf body, UUID requestId, boolean buyerKeepAlive, long startNanos, CallMetering.Admitted admitted,
      boolean stripUsageChunk, String path, String model) {
    this.buyer = buyer;
    this.ctx = ctx;
    this.services = services;
    this.snapshot = snapshot;
    this.endpoint = endpoint;
    this.health = health;
    this.pool = pool;
    this.method = method;
    this.target = target;
    this.headers = headers;
    this.body = body;
    this.requestId = requestId;
    this.buyerKeepAlive = buyerKeepAlive;
    this.startNanos = startNanos;
    this.responseTimeoutNanos = snapshot.product().responseTimeout().toNanos();
    this.admitted = admitted;
    this.stripUsageChunk = stripUsageChunk;
    this.path = path;
    this.model = model;
  }

  void start() {
    attempts++;
    try {
      // fast-path first: a kept-alive connection is idle in the pool, with no future to wait on
      Channel idle = pool.pollIdle();
      if (idle != null) {
        acquired(idle);
        return;
      }
      acquiring = pool.acquire();
      acquiring.addListener((FutureListener<Channel>) this::onAcquired);
    } catch (RuntimeException e) {
      failInternally(e);
    }
  }

  /**
   * An exception of our own while forwarding (Netty's listeners would only log it): the call ends
   * with a 500 and, like every failed call, gives its reservation back.
   */
  private void failInternally(RuntimeException e) {
    if (ended) {
      return;
    }
    log.error("call {} could not be forwarded: {}", requestId, e.toString());
    fail(ApiError.internal());
  }

  private void onAcquired(Future<Channel> f) {
    try {
      acquired(f);
    } catch (RuntimeException e) {
      failInternally(e);
    }
  }

  private void acquired(Future<Channel> f) {
    acquiring = null;
    if (ended) {
      if (f.isSuccess()) {
        pool.release(f.getNow());
      }
      return;
    }
    if (!f.isSuccess()) {
      Throwable cause = f.cause();
      if (cause instanceof UpstreamOverloadedException) {
        // Our own cap, not the endpoint's failure: its health stays as it is.
        fail(ApiError.upstreamOverloaded());
        return;
      }
      health.failed(snapshot.product().id(), endpoint);
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
    acquired(f.getNow());
  }

  /**
   * Writes the request to {@code ch}. With the channel's void promise: a write that fails reaches
   * the {@link BackendHandler} as an exception, which hands it to {@link #onBackendFailed} (no
   * promise and listener per call).
   */
  private void acquired(Channel ch) {
    backend = ch;
    backendHandler = ch.pipeline().get(BackendHandler.class);
    backendReused = ch.attr(REUSED).getAndSet(Boolean.TRUE) != null;
    backendHandler.attach(this);
    lastReadNanos = System.nanoTime();
    buyer.checkResponseBy(lastReadNanos + responseTimeoutNanos);
    ch.writeAndFlush(sendable(), ch.voidPromise());
  }

  /**
   * The request as one attempt writes it: the call's head and headers (shared, not copied: the
   * encoder only reads them) around a duplicate of its body, so a retry can send it again.
   */
  private FullHttpRequest sendable() {
    return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, target, body.retainedDuplicate(), headers,
        EmptyHttpHeaders.INSTANCE);
  }

  /**
   * The backend connection failed: a write of the request, or a read. Before the answer's head
   * that is retried as a connection closed before answering; after, the buyer's connection is cut.
   */
  void onBackendFailed(Throwable cause) {
    if (ended) {
      return;
    }
    if (head == null) {
      retryOrFail("request could not be sent or answered: " + describe(cause));
    } else {
      abort(Outcome.UPSTREAM_FAILED);
    }
  }

  /** A reused connection that dies before answering is retried once on another one. */
  private void retryOrFail(String why) {
    boolean reused = backendReused;
    Channel dead = backend;
    backend = null;
    if (dead != null) {
      backendHandler.detach();
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
  @Override
  public void onBrokenResponse(Throwable cause) {
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
    upstreamStatus = status;
    health.answered(endpoint);
    lastReadNanos = System.nanoTime();
    backendKeepAlive = HttpUtil.isKeepAlive(response);
    HttpHeaders h = response.headers();
    boolean stream = isEventStream(h);
    Headers.sanitizeResponse(h);
    if (!HttpUtil.isContentLengthSet(response) && !HttpUtil.isTransferEncodingChunked(response)) {
      // A close-delimited upstream body is sent to the buyer chunked, so the buyer's
      // connection can stay open.
      HttpUtil.setTransferEncodingChunked(response, true);
    }
    buyer.answerHeaders(h); // after the upstream's own rate-limit headers went
    if (!buyerKeepAlive) {
      h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    List<String> pointers = snapshot.product().usagePointers();
    extractor = services.extractors().again(buyer.takeSpareExtractor(), snapshot.product().protocol().dialect(), stream,
        pointers.isEmpty() ? ExtractorOptions.DEFAULTS
            : ExtractorOptions.DEFAULTS.withUsagePointers(pointers.toArray(String[]::new)));
    if (stripUsageChunk && stream && status >= 200 && status < 300) {
      usageChunkFilter = SseUsageChunkFilter.over(extractor); // one pass: it feeds the extractor
    }
    if (stream && status >= 200 && status < 300 && HttpUtil.isTransferEncodingChunked(response)) {
      // The events reach the buyer in the upstream's own chunks (see ChunkedRelay); when the usage
      // chunk is hidden, each chunk is offered whole to the filter, which may replace it.
      backendHandler.relay().relay(this, usageChunkFilter != null);
    }
    ctx.write(response, ctx.voidPromise());
  }

  /** Chunk data of a relayed body, for the usage scan: {@code length} bytes of {@code in} at {@code index}. */
  @Override
  public void scanRelayed(ByteBuf in, int index, int length) {
    if (ended) {
      return;
    }
    bodyRelayed(length, length);
    int reader = in.readerIndex();
    int writer = in.writerIndex();
    in.setIndex(index, index + length);
    try {
      extractor.feed(in);
    } finally {
      in.setIndex(reader, writer);
    }
  }

  /**
   * A whole chunk of a relayed stream whose usage chunk is hidden: the filter reads it (and the
   * usage in it) and hands it back when the buyer gets it unchanged, the common case.
   */
  @Override
  public ByteBuf replaceChunk(ByteBuf in, int index, int length) {
    if (ended || usageChunkFilter == null) {
      scanRelayed(in, index, length);
      return null;
    }
    ByteBuf chunk = in.retainedSlice(index, length);
    ByteBuf kept = usageChunkFilter.filter(chunk);
    if (kept == chunk) {
      chunk.release();
      bodyRelayed(length, length);
      return null;
    }
    bodyRelayed(length, kept == null ? 0 : kept.readableBytes());
    return kept;
  }

  /** {@code read} bytes of answer body came from the upstream, {@code sent} of them go to the buyer. */
  private void bodyRelayed(int read, int sent) {
    if (ttftNanos < 0 && read > 0) {
      ttftNanos = System.nanoTime() - startNanos;
    }
    bytesOut += sent;
  }

  /** Bytes of a relayed body, framing and all, to write to the buyer as they are. */
  @Override
  public void onRelayed(ByteBuf bytes) {
    if (ended) {
      bytes.release();
      return;
    }
    lastReadNanos = System.nanoTime();
    // written before the buyer's codec, which has sent the head and will send the terminal chunk
    ctx.pipeline().firstContext().write(bytes, ctx.voidPromise());
    if (!ctx.channel().isWritable()) {
      backend.config().setAutoRead(false);
    }
  }

  void onContent(HttpContent content) {
    if (ended || head == null) {
      content.release();
      return;
    }
    long now = System.nanoTime();
    lastReadNanos = now;
    if (ttftNanos < 0 && content.content().isReadable()) {
      ttftNanos = now - startNanos;
    }
    HttpContent out;
    if (usageChunkFilter == null) {
      extractor.feed(content.content());
      out = content;
    } else {
      out = stripUsageChunk(content);
    }
    if (out instanceof LastHttpContent last) {
      complete(last);
      return;
    }
    bytesOut += out.content().readableBytes();
    ctx.write(out, ctx.voidPromise());
    if (!ctx.channel().isWritable()) {
      backend.config().setAutoRead(false);
    }
  }

  /**
   * Removes the usage chunk tollgate asked for on the buyer's behalf, reading the usage in the
   * same pass. The filter takes over the content's buffer and, in the common case, hands it back:
   * the content then goes out as it came.
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
      if (!all.isReadable() && last.trailingHeaders().isEmpty()) {
        all.release();
        return LastHttpContent.EMPTY_LAST_CONTENT; // a relayed stream's end: nothing to wrap
      }
      return new DefaultLastHttpContent(all, last.trailingHeaders());
    }
    return kept == content.content() ? content : new DefaultHttpContent(kept);
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
    CallMetering metering = services.metering();
    if (metering.needsEstimate(Outcome.COMPLETED, status, extractor)) {
      // The last content waits for the estimate; what came before it goes out now, and the
      // backend connection is done with. (A full estimate pool answers inline: end first.)
      ByteBuf prompt = body.retainedDuplicate();
      end(backendKeepAlive);
      ctx.flush();
      metering.estimate(snapshot, Outcome.COMPLETED, extractor, prompt, tokens -> deliverAfterEstimate(last, tokens));
      return;
    }
    TokenUsage tokens = metering.reportedUsage(Outcome.COMPLETED, status, extractor);
    LoopEnds ends = buyer.loopEnds();
    if (ends != null) {
      // io_uring: delivered with the other ends of this turn of the loop, one ring entry for all
      // (LoopEnds); the backend connection is done with now.
      end(backendKeepAlive);
      queuedEnd = last;
      endTokens = tokens;
      ends.add(this);
      return;
    }
    deliver(last, tokens);
  }

  /**
   * LoopEnds, first: journals this completed call and writes its end; false if it ended otherwise.
   * {@code held}: the journal entry is published by the loop's {@code UsageRecorder.publish()},
   * which LoopEnds makes before it enters the ring, the write queued here leaving only then.
   */
  boolean writeQueuedEnd(boolean held) {
    LastHttpContent last = queuedEnd;
    queuedEnd = null;
    return writeEnd(last, endTokens, held);
  }

  /** LoopEnds, once the turn's ends were submitted: the rest of this call's accounting. */
  void accountQueuedEnd() {
    accountDelivered(endTokens);
  }

  /** LoopEnds: delivering this call's end threw (a bug); the buyer's connection is cut. */
  void deliveryFailed(RuntimeException e) {
    log.error("call {}: delivering its end failed; its buyer's connection is closed", requestId, e);
    if (queuedEnd != null) {
      queuedEnd.release();
      queuedEnd = null;
    }
    ctx.channel().close();
  }

  /** On an estimate worker: back to this call's loop, which records the call, then delivers its end. */
  private void deliverAfterEstimate(LastHttpContent last, TokenUsage tokens) {
    if (ctx.executor().inEventLoop()) {
      deliver(last, tokens);
      return;
    }
    try {
      ctx.executor().execute(() -> deliver(last, tokens));
    } catch (RejectedExecutionException loopClosed) {
      // The gateway is shutting down and its loops closed the buyer's connection: the buyer got
      // all but the end, so is billed as one who left (what was delivered).
      last.release();
      account(status, Outcome.BUYER_ABORTED, tokens);
    }
  }

  /** Records the completed call, then writes its last content: the usage is journaled first. */
  private void deliver(LastHttpContent last, TokenUsage tokens) {
    if (writeEnd(last, tokens, false)) {
      buyer.writeOutNow();
      accountDelivered(tokens);
    }
  }

  /**
   * Journals the completed call, then writes (and flushes) its last content; false when the call
   * ended otherwise: its buyer left meanwhile, or the journal refused it.
   */
  private boolean writeEnd(LastHttpContent last, TokenUsage tokens, boolean held) {
    if (!ctx.channel().isActive()) {
      // The buyer left while the estimate ran (or before its loop's turn delivered the end): it
      // has all but the end, and pays for that.
      last.release();
      account(status, Outcome.BUYER_ABORTED, tokens);
      if (!ended) {
        end(false);
      }
      return false;
    }
    Boolean billable = record(status, Outcome.COMPLETED, tokens, held);
    if (billable == null) {
      // The usage could not be journaled: the buyer must not receive the end of an answer that
      // would go unbilled. Cut the connection; the call is not served.
      settleAndCount(status, null, tokens);
      last.release();
      if (!ended) {
        end(false);
      }
      ctx.channel().close();
      return false;
    }
    endBillable = billable;
    // The end leaves right after the journal, before the rest of the accounting: a process killed
    // in between bills a call whose buyer missed its last bytes, so that window is kept short. On
    // io_uring a flush only queues the write: the caller enters the ring at once (deliver), or
    // LoopEnds publishes the turn's held entries, then enters the ring once for the turn's ends.
    bytesOut += last.content().readableBytes();
    if (buyerKeepAlive) {
      ctx.writeAndFlush(last, ctx.voidPromise());
    } else {
      ctx.writeAndFlush(last).addListener((ChannelFuture f) -> buyer.exchangeEnded(false));
    }
    return true;
  }

  /** After a call's end was written and submitted: settles it, frees the backend, takes the next request. */
  private void accountDelivered(TokenUsage tokens) {
    settleAndCount(status, endBillable, tokens);
    if (!ended) {
      end(backendKeepAlive);
    }
    if (buyerKeepAlive) {
      // The next request may be read now: its answer queues behind this one. A write that fails
      // reaches the buyer handler as an exception, which closes the connection. The call is
      // recorded (and any estimate done), so nothing reads its extractor any more.
      buyer.spareExtractor(extractor);
      buyer.exchangeEnded(true);
    }
  }

  /** Ends the exchange before any response head went to the buyer: the buyer gets {@code error}. */
  private void fail(ApiError error) {
    FullHttpResponse answer = buyer.errorResponse(error);
    bytesOut = answer.content().readableBytes();
    account(error.status(), Outcome.UPSTREAM_FAILED, TokenUsage.ZERO);
    end(false);
    buyer.sendAnswer(answer);
  }

  /** Ends the exchange after the head went out: the buyer's connection is cut, as the upstream's was. */
  private void abort(Outcome outcome) {
    CallMetering metering = services.metering();
    if (metering.needsEstimate(outcome, status, extractor)) {
      // Nothing is left to send: the event is recorded on the worker once the estimate is done.
      int httpStatus = status;
      ByteBuf prompt = body.retainedDuplicate();
      end(false);
      metering.estimate(snapshot, outcome, extractor, prompt, tokens -> account(httpStatus, outcome, tokens));
    } else {
      account(status, outcome, metering.reportedUsage(outcome, status, extractor));
      end(false);
    }
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
      account(499, Outcome.BUYER_ABORTED, TokenUsage.ZERO);
      end(false);
      return;
    }
    abort(Outcome.BUYER_ABORTED);
  }

  /**
   * The response timeout, checked by the buyer connection's one check ({@link
   * BuyerHandler#checkResponseBy}): an upstream that has sent nothing for the product's response
   * timeout fails the call (before its head) or cuts the answer; otherwise the check comes back
   * when it could first be due. The timeout runs from when a connection was acquired: a check
   * left by the connection's previous call that comes while this one waits for a backend
   * connection does nothing.
   */
  void checkTimeout() {
    if (ended || backend == null) {
      return; // no connection yet (or a retry's new one coming): acquired() asks for the check
    }
    long idle = System.nanoTime() - lastReadNanos;
    if (idle < responseTimeoutNanos) {
      buyer.checkResponseBy(lastReadNanos + responseTimeoutNanos);
      return;
    }
    if (head == null) {
      fail(ApiError.upstreamTimeout());
    } else {
      abort(Outcome.UPSTREAM_FAILED);
    }
  }

  /** Ends the exchange once: frees the backend and the request copy it kept. */
  private void end(boolean backendReusable) {
    ended = true;
    if (acquiring != null) {
      acquiring.cancel(false); // still waiting for a connection: leave the queue
      acquiring = null;
    }
    body.release();
    if (usageChunkFilter != null) {
      usageChunkFilter.finish().release();
      usageChunkFilter = null;
    }
    Channel ch = backend;
    backend = null;
    if (ch == null) {
      return;
    }
    backendHandler.detach();
    if (backendReusable && ch.isActive()) {
      ch.config().setAutoRead(true);
      pool.release(ch);
    } else {
      ch.close();
    }
  }

  /**
   * Records the call's usage event (journal, then aggregation) and settles its admission: how an
   * exchange accounts its call, once per call ({@link #deliver} does the same two steps with the
   * write of the answer's end between them). Runs on the loop, or on an estimate
   * worker for an aborted call whose tokens were estimated (it reads only final fields then).
   *
   * @return false when the event could not be recorded
   */
  private boolean account(int httpStatus, Outcome outcome, TokenUsage tokens) {
    Boolean billable = null;
    try {
      billable = record(httpStatus, outcome, tokens);
    } finally {
      settleAndCount(httpStatus, billable, tokens);
    }
    return billable != null;
  }

  /**
   * Records the call's usage event (journal, then aggregation).
   *
   * @return whether the event is billable, or null when it could not be recorded
   */
  private Boolean record(int httpStatus, Outcome outcome, TokenUsage tokens) {
    return record(httpStatus, outcome, tokens, false);
  }

  private Boolean record(int httpStatus, Outcome outcome, TokenUsage tokens, boolean held) {
    try {
      UsageEvent event = new UsageEvent(requestId, snapshot.subscription().id(), snapshot.sku().id(),
          snapshot.product().id(), snapshot.product().merchantId(), snapshot.subscription().buyerId(),
          services.clock().millis(), httpStatus, outcome, tokens, snapshot.subscription().test());
      if (held) {
        services.recorder().recordHeld(event);
      } else {
        services.recorder().record(event);
      }
      return event.billable();
    } catch (RuntimeException e) {
      log.error("usage of call {} could not be recorded; the call is cut short: {}", requestId, e.toString());
      return null;
    }
  }

  /**
   * Settles the call's admission ({@code billable} null: not recorded), counts it in metrics and
   * tells the observer of it (once per call: every end accounts the call once). On an estimate
   * worker for an aborted call whose tokens were estimated: the fields read here were last written
   * on the loop before the estimate was handed over.
   */
  private void settleAndCount(int httpStatus, Boolean billable, TokenUsage tokens) {
    try {
      admitted.settle(billable != null && billable, tokens);
    } finally {
      long nanos = System.nanoTime() - startNanos;
      services.metrics().product(snapshot.product().id()).record(httpStatus, nanos);
      services.ended(new CallSummary(requestId, snapshot.subscription().id(), snapshot.product().id(),
          snapshot.sku().id(), snapshot.product().protocol().wireName(), model, method.name(), path, httpStatus,
          upstreamStatus, nanos, ttftNanos, tokens.inputTokens(), tokens.outputTokens(), tokens.estimated(),
          bytesOut, Origin.of(endpoint.url()).authority()), model != null && snapshot.sku().models().contains(model));
    }
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
