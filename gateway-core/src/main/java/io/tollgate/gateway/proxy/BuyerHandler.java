package io.tollgate.gateway.proxy;

import io.tollgate.gateway.api.ApiError;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import io.tollgate.gateway.catalog.ApiKeys;
import io.tollgate.gateway.catalog.Endpoint;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.gateway.catalog.Subscription;
import io.tollgate.gateway.catalog.SubscriptionStatus;
import io.tollgate.gateway.catalog.UpstreamAuth;
import io.tollgate.gateway.observe.CallSummary;
import io.tollgate.gateway.upstream.AkskJwt;
import io.tollgate.metering.usage.StreamUsage;
import io.tollgate.metering.usage.UsageExtractor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The buyer connection's request side: reads one request (its body within the size limit),
 * authenticates its key, admits it, and hands it to an {@link Exchange}; answers the requests it
 * can itself ({@code /v1/models}, {@code /v1/subscription}, errors).
 *
 * <p>One instance per buyer connection, confined to its event loop. Requests on a connection are
 * served one at a time. When a buyer sends anything while a call is in flight (HTTP/1.1
 * pipelining, or just bytes), the connection stops being read (auto-read off) until the answer
 * has ended, so those bytes fill the buyer's own socket buffers, not tollgate's memory. What the
 * codec had already decoded from the last read waits in {@code pending} (one read: at most 64 KiB
 * with Netty's default receive buffers), bounded anyway to one request head plus {@code
 * maxBodyBytes}: past the bound the requests queued before it are answered and the connection is
 * then closed, the rest unread (a pipelining client retries those, RFC 9112 9.3.2). The bound is
 * reached only when {@code maxBodyBytes} is below one read. (A buyer that half-closes its side is
 * not answered: on both native transports Netty closes a connection whose input has ended, since
 * {@code ALLOW_HALF_CLOSURE} is off, and its call in flight ends as the buyer's abort, unbilled;
 * {@code BuyerConnectionTest} shows it. The bound's path is reached in {@code BuyerHandlerTest}'s
 * embedded channel.)
 *
 * <p>Reading stops at the first byte that arrives during a call, not at the start of every call:
 * a buyer that waits for its answers (nearly all do) costs no {@code epoll_ctl} pair per request,
 * and its close is seen by a plain read on either transport.
 *
 * <p>Every answer carries the request's id, made when its head arrives, and is in Anthropic's shape
 * for an Anthropic product or, before a key names a product, on Anthropic's route (see {@link
 * AnswerHeaders}, {@link ErrorResponses}); the exchange's answer gets the same headers.
 *
 * <p>A buyer that closes its connection mid-call is still noticed with auto-read off: io_uring and
 * epoll report the peer's hang-up (a POLLRDHUP poll kept armed, EPOLLRDHUP) without a read, and
 * the exchange is cancelled ({@code BuyerConnectionTest} on each). (On the NIO fallback a close is
 * noticed at the next write, or by the response timeout.)
 */
final class BuyerHandler extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(BuyerHandler.class);

  /** How long a refused buyer may go on sending before its connection is closed anyway. */
  static final long LINGER_MILLIS = 3_000;

  /** What one request head may take in {@code pending}: the codec's own limits. */
  static final long HEAD_ALLOWANCE = BuyerServer.MAX_INITIAL_LINE + BuyerServer.MAX_HEADER_SIZE;

  /** Marks, in {@code pending}, where what the buyer sent went over the bound. */
  private static final Object OVER_THE_BOUND = new Object();

  private final ProxyServices services;
  private final BackendPools pools;
  private final Via via;
  private final long maxBodyBytes;
  private final long idleTimeoutNanos;

  private ChannelHandlerContext ctx;
  private long idleSince; // nanoTime when the connection last had nothing in flight
  private ScheduledFuture<?> idleCheck;
  /**
   * The response-timeout check of this connection's calls: one task kept from call to call and
   * due no later than the current exchange's deadline ({@code responseCheckDue}, on {@code
   * System.nanoTime()}'s scale), rather than a task scheduled and cancelled per call (an insert
   * and a removal in the loop's timer queue, and a task object, every call).
   */
  private ScheduledFuture<?> responseCheck;
  private long responseCheckDue;
  /** The key of this connection's last call with one, and its hash ({@link #keyHash}). */
  private String lastKey;
  private String lastKeyHash;
  /** The subscription of this connection's last forwarded call, and its identity headers' values. */
  private Subscription identified;
  private String customerId;
  private String customerName;
  /** The backend pool of this connection's last forwarded call: its origin and connect timeout. */
  private Origin lastOrigin;
  private int lastConnectMillis;
  private OriginPool lastPool;
  /** The last completed call's usage extractor, which nothing reads any more: the next call's. */
  private UsageExtractor spareExtractor;
  private LoopEnds loopEnds; // this connection's loop's, once asked for (null: epoll, NIO)
  private boolean loopEndsKnown;
  private HttpRequest request;
  /**
   * The request body read so far: {@code EMPTY_BUFFER} before its first bytes, the content's own
   * buffer while it came in one piece (the common case: no composite per call), a composite once
   * it came in several; null when no body is being read.
   */
  private ByteBuf body;
  private boolean discardingBody;
  private boolean busy;
  private long startNanos;
  private Exchange exchange;
  private ArrayDeque<Object> pending;
  private long pendingBytes;
  private boolean draining;
  private boolean lingering;
  /** The port is draining: close once nothing is in flight ({@link BuyerServer#DRAIN}). */
  private boolean closeWhenIdle;
  private RequestHeadTimer headTimer;
  /** The current request's id, and its header value built once. */
  private UUID requestId;
  private AsciiString requestIdText;
  /** Whether the current request is answered in Anthropic's shape, with Anthropic's headers. */
  private boolean anthropic;
  /** The active subscription the current request's key named, whose limits its answer shows; or null. */
  private SubscriptionSnapshot limitsOf;
  /** For the current call's {@link CallSummary}: its head's method and target (null before a head). */
  private String headMethod;
  private String headUri;
  /** The subscription the current request's key named, active or not; or null. */
  private SubscriptionSnapshot callSnap;
  /** The current request's top-level model, once its body was scanned; or null. */
  private String callModel;

  /**
   * @param idleTimeoutNanos a connection with no request in flight for this long is closed
   */
  BuyerHandler(ProxyServices services, BackendPools pools, Via via, long maxBodyBytes, long idleTimeoutNanos) {
    this.services = services;
    this.pools = pools;
    this.via = via;
    this.maxBodyBytes = maxBodyBytes;
    this.idleTimeoutNanos = idleTimeoutNanos;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    this.headTimer = ctx.pipeline().get(RequestHeadTimer.class);
    idleSince = System.nanoTime();
    idleCheck = ctx.executor().schedule(this::checkIdle, idleTimeoutNanos, TimeUnit.NANOSECONDS);
  }

  /**
   * The idle timeout, checked once per timeout rather than timed per read and write (Netty's
   * {@code IdleStateHandler} read the clock and wrapped the promise of every write, a listener
   * and a promise per chunk of every answer): a connection that has had no request in flight since
   * {@code idleSince} for the whole timeout is closed; otherwise the check comes back when it could
   * first be due. A request being read or answered keeps the connection; a head that does not
   * arrive is the {@link RequestHeadTimer}'s, a body that does not is bounded by the buyer's own
   * patience as before.
   */
  private void checkIdle() {
    idleCheck = null;
    if (!ctx.channel().isActive()) {
      return;
    }
    long now = System.nanoTime();
    long idle = busy || request != null ? 0 : now - idleSince;
    if (idle >= idleTimeoutNanos) {
      ctx.close();
      return;
    }
    idleCheck = ctx.executor().schedule(this::checkIdle, idleTimeoutNanos - idle, TimeUnit.NANOSECONDS);
  }

  /**
   * The current exchange's response timeout is due by {@code deadline} ({@code System.nanoTime()}
   * scale): the connection's check stays when it comes sooner, else it is moved to the deadline.
   */
  void checkResponseBy(long deadline) {
    if (responseCheck != null) {
      if (deadline - responseCheckDue >= 0) {
        return;
      }
      responseCheck.cancel(false);
    }
    responseCheckDue = deadline;
    responseCheck = ctx.executor().schedule(this::checkResponse, deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
  }

  /** The check came: the exchange in flight, if any, times out or asks for its next check. */
  private void checkResponse() {
    responseCheck = null;
    if (exchange != null) {
      exchange.checkTimeout();
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (lingering) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (busy) {
      queue(msg);
      return;
    }
    read(msg);
  }

  /** Keeps what the codec decoded after the request in flight, up to the bound; stops reading. */
  private void queue(Object msg) {
    if (pending == null) {
      pending = new ArrayDeque<>(4);
    }
    if (ctx.channel().config().isAutoRead()) {
      ctx.channel().config().setAutoRead(false);
    }
    long size = sizeOf(msg);
    if (pendingBytes + size > HEAD_ALLOWANCE + maxBodyBytes || pending.peekLast() == OVER_THE_BOUND) {
      ReferenceCountUtil.release(msg);
      if (pending.peekLast() != OVER_THE_BOUND) {
        pending.add(OVER_THE_BOUND);
      }
      return;
    }
    pending.add(msg);
    pendingBytes += size;
  }

  /** The bytes a decoded message holds; for a head, about what it took on the wire. */
  private static long sizeOf(Object msg) {
    long size = 0;
    if (msg instanceof HttpRequest head) {
      size += head.method().name().length() + head.uri().length() + 12;
      for (Iterator<Map.Entry<CharSequence, CharSequence>> it = head.headers().iteratorCharSequence(); it.hasNext(); ) {
        Map.Entry<CharSequence, CharSequence> h = it.next();
        size += h.getKey().length() + h.getValue().length() + 4;
      }
    }
    if (msg instanceof HttpContent content) {
      size += content.content().readableBytes();
    }
    return size;
  }

  private void read(Object msg) {
    if (msg == OVER_THE_BOUND) {
      // Everything queued before the bound was answered; what came after it was not read.
      lingering = true;
      pending = releaseAll(pending);
      lingerThenClose(true);
      return;
    }
    // fast-path first: the body's content arrives far more often than request heads
    if (msg instanceof HttpContent content && !(msg instanceof HttpRequest)) {
      readContent(content);
    } else if (msg instanceof HttpRequest head) {
      readHead(head);
    } else {
      ReferenceCountUtil.release(msg);
    }
  }

  private void readHead(HttpRequest head) {
    startNanos = System.nanoTime();
    newRequest(head.uri());
    headMethod = head.method().name();
    if (headTimer != null) {
      headTimer.headRead();
    }
    if (!head.decoderResult().isSuccess()) {
      ReferenceCountUtil.release(head);
      busy = true;
      sendAndClose(ApiError.badRequest("malformed_request", "The HTTP request could not be parsed."));
      return;
    }
    if (Route.hasControlBytes(head.uri())) {
      busy = true;
      sendAndClose(ApiError.badRequest("malformed_request",
          "The request target contains control characters; percent-encode them."));
      return;
    }
    request = head;
    long declared = HttpUtil.getContentLength(head, -1L);
    if (declared > maxBodyBytes) {
      discardingBody = true;
      busy = true;
      sendAndClose(ApiError.tooLarge(maxBodyBytes));
      return;
    }
    if (HttpUtil.is100ContinueExpected(head)) {
      ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE,
          Unpooled.EMPTY_BUFFER));
    }
    body = Unpooled.EMPTY_BUFFER;
  }

  private void readContent(HttpContent content) {
    if (discardingBody || body == null) {
      content.release();
      return;
    }
    ByteBuf bytes = content.content();
    if (body.readableBytes() + (long) bytes.readableBytes() > maxBodyBytes) {
      content.release();
      discardingBody = true;
      busy = true;
      sendAndClose(ApiError.tooLarge(maxBodyBytes));
      return;
    }
    if (bytes.isReadable()) {
      if (body == Unpooled.EMPTY_BUFFER) {
        body = bytes;
      } else if (body instanceof CompositeByteBuf pieces) {
        pieces.addComponent(true, bytes);
      } else {
        body = ctx.alloc().compositeBuffer(64).addComponents(true, body, bytes);
      }
    } else {
      content.release();
    }
    if (content instanceof LastHttpContent) {
      busy = true;
      authenticate();
    }
  }

  private void authenticate() {
    if (via.looped(request.headers())) {
      // This instance forwarded the request before: forwarding it again would loop.
      reject(ApiError.loopDetected(), ProxyMetrics.NO_PRODUCT);
      return;
    }
    if (request.uri().startsWith(LicenceApi.PREFIX)) {
      answerLicence(); // the code is in the body: the caller is the merchant's software
      return;
    }
    String key = Headers.apiKey(request.headers(), lastKey);
    if (key == null) {
      reject(ApiError.missingKey(), ProxyMetrics.NO_PRODUCT);
      return;
    }
    CompletableFuture<Optional<SubscriptionSnapshot>> lookup = services.subscriptions().lookup(keyHash(key));
    if (lookup.isDone() && !lookup.isCompletedExceptionally()) {
      admit(lookup.getNow(Optional.empty()));
      return;
    }
    // A load that failed, at once or later, answers 503 below (getNow would throw here, on the
    // loop, and the connection was closed unanswered: a catalog connection cut fails at once).
    lookup.whenComplete((snapshot, error) -> ctx.executor().execute(() -> {
      if (!ctx.channel().isActive()) {
        return;
      }
      if (error != null) {
        reject(ApiError.storeUnavailable(), ProxyMetrics.NO_PRODUCT);
      } else {
        admit(snapshot);
      }
    }));
  }

  /**
   * The SHA-256 the subscription cache is keyed by, taken once per connection and key: a client
   * sends the same key call after call on a kept-alive connection, and {@link Headers#apiKey(
   * HttpHeaders, String)} hands that key back as {@code lastKey} itself. It compares in time that
   * depends on the lengths only: a connection several buyers share (a client-side proxy's pool)
   * tells none of them anything of another's key.
   */
  private String keyHash(String key) {
    if (key != lastKey) {
      lastKeyHash = ApiKeys.sha256Hex(key);
      lastKey = key;
    }
    return lastKeyHash;
  }

  private void admit(Optional<SubscriptionSnapshot> found) {
    if (found.isEmpty()) {
      reject(ApiError.invalidKey(), ProxyMetrics.NO_PRODUCT);
      return;
    }
    SubscriptionSnapshot snap = found.get();
    callSnap = snap;
    Product product = snap.product();
    anthropic = product.protocol() == Protocol.ANTHROPIC;
    SubscriptionStatus status = snap.subscription().statusAt(services.clock().instant());
    if (status != SubscriptionStatus.ACTIVE) {
      reject(ApiError.subscriptionInactive(status.name()), product.id());
      return;
    }
    limitsOf = snap;
    String path = Route.pathOf(request.uri());
    switch (Route.match(product, request.method(), path)) {
      case MODELS -> answerModels(snap);
      case SUBSCRIPTION -> answerSubscription(snap);
      case NOT_FOUND -> reject(ApiError.unknownUrl(path), product.id());
      case METHOD_NOT_ALLOWED -> reject(ApiError.methodNotAllowed(request.method().name(), path), product.id());
      case FORWARD_MODEL_CALL -> {
        RequestBody scan = RequestBody.scan(body);
        callModel = scan.model();
        if (!scan.json()) {
          reject(ApiError.badRequest("invalid_json",
              "We could not parse the JSON body of your request: it must be a JSON object."), product.id());
        } else if (scan.model() == null) {
          reject(ApiError.badRequest("missing_model", "You must provide a model parameter."), product.id());
        } else if (!snap.sku().allowsModel(scan.model())) {
          reject(ApiError.modelNotFound(scan.model()), product.id());
        } else {
          admit(snap, scan, path);
        }
      }
      case FORWARD_CUSTOM -> {
        RequestBody scan = RequestBody.scan(body);
        callModel = scan.model();
        if (scan.model() != null && !snap.sku().allowsModel(scan.model())) {
          reject(ApiError.modelNotFound(scan.model()), product.id());
        } else {
          admit(snap, scan, path);
        }
      }
    }
  }

  /** Rate limits and quota: answered from local state, or after a quota lease refill. */
  private void admit(SubscriptionSnapshot snap, RequestBody scan, String path) {
    decided(snap, scan, path, services.metering().admit(snap, CallMetering.estimateTokens(body)));
  }

  /**
   * From here on an admitted call holds quota and rate-limit budget: every way it can end
   * settles its {@link CallMetering.Admitted} (the exchange's accounting, or {@code release()}
   * on the paths before an exchange exists).
   */
  private void decided(SubscriptionSnapshot snap, RequestBody scan, String path, CallMetering.Decision decision) {
    if (decision instanceof CallMetering.Admitted admitted) {
      forward(snap, scan, path, admitted);
    } else if (decision instanceof CallMetering.Refused refused) {
      FullHttpResponse r = errorResponse(refused.error());
      ended(refused.error().status(), snap.product().id(), r.content().readableBytes());
      if (refused.retryAfterSeconds() > 0) {
        r.headers().set(HttpHeaderNames.RETRY_AFTER, refused.retryAfterSeconds());
      }
      writeAnswer(r);
    } else if (decision instanceof CallMetering.Pending pending) {
      pending.decision().whenComplete((next, error) -> {
        try {
          ctx.executor().execute(() -> {
            if (!ctx.channel().isActive()) {
              // The buyer left while the lease refilled: nothing will be served.
              if (next instanceof CallMetering.Admitted a) {
                a.release();
              }
              return;
            }
            if (error != null) {
              reject(ApiError.storeUnavailable(), snap.product().id());
            } else {
              decided(snap, scan, path, next);
            }
          });
        } catch (RuntimeException loopClosed) {
          if (next instanceof CallMetering.Admitted a) {
            a.release();
          }
        }
      });
    }
  }

  /**
   * Builds the upstream request and starts its exchange. Anything that throws before the exchange
   * exists (a header Netty refuses to send, say) ends the call here with a 500 in the error shape
   * and its admission released, never with a dead connection or a held reservation; the request
   * body stays in {@code body} until the exchange owns it, so it is released with the call.
   */
  private void forward(SubscriptionSnapshot snap, RequestBody scan, String path, CallMetering.Admitted admitted) {
    boolean keepAlive = HttpUtil.isKeepAlive(request);
    try {
      startExchange(snap, scan, path, admitted);
    } catch (RuntimeException e) {
      exchange = null;
      releaseBody();
      admitted.release();
      log.error("call to product {} could not be forwarded: {}", snap.product().id(), e.toString());
      FullHttpResponse r = errorResponse(ApiError.internal());
      ended(500, snap.product().id(), r.content().readableBytes());
      writeAnswer(r, keepAlive);
    }
  }

  private void startExchange(SubscriptionSnapshot snap, RequestBody scan, String path, CallMetering.Admitted admitted) {
    Product product = snap.product();
    ByteBuf content = body;
    boolean stripUsageChunk = false;
    if (product.protocol() == Protocol.OPENAI && scan.stream() && !scan.includeUsage()
        && ("/v1/chat/completions".equals(path) || "/v1/completions".equals(path))) {
      // Ask the upstream for the usage chunk, and hide it from a buyer who did not ask for it.
      if (!scan.streamOptions()) {
        // one copy: the scan already knows the body (a parse and re-serialisation took 7% of the loop)
        ByteBuf rewritten = StreamUsage.withFirstMemberIncludeUsage(body, ctx.alloc());
        body.release();
        body = rewritten;
        content = body;
        stripUsageChunk = true;
      } else {
        StreamUsage.Rewrite rewrite = StreamUsage.includeUsage(content);
        if (rewrite.usageAdded()) {
          // The body buffer now holds the request as forwarded: still the one buffer the call owns.
          body.release();
          body = Unpooled.wrappedBuffer(rewrite.body());
          content = body;
          stripUsageChunk = true;
        }
      }
    }
    Endpoint endpoint = pools.health().pick(product.endpoints());
    Origin origin = Origin.of(endpoint.url());
    boolean keepAlive = HttpUtil.isKeepAlive(request);

    HttpHeaders headers = request.headers();
    String target = request.uri();
    if (target.indexOf('?') >= 0) {
      target = Route.withoutKey(target, Headers.apiKey(headers, lastKey));
    }
    String declaredLength = headers.get(HttpHeaderNames.CONTENT_LENGTH);
    Headers.sanitizeRequest(headers);
    Headers.dropUnderscoreSpellings(headers, endpoint.headers());
    headers.set(HttpHeaderNames.HOST, origin.hostHeader());
    if (!endpoint.headers().isEmpty()) {
      for (Map.Entry<String, String> h : endpoint.headers().entrySet()) {
        headers.set(h.getKey(), h.getValue());
      }
    }
    via.stamp(headers); // after the endpoint's headers, so none of them can take it out
    UpstreamAuth auth = product.auth();
    if (auth.type() == UpstreamAuth.Type.AKSK) {
      headers.set(HttpHeaderNames.AUTHORIZATION,
          AkskJwt.bearer(auth.accessKey(), auth.secretKey(), services.clock().millis()));
    }
    identify(snap.subscription());
    headers.set(Headers.X_REQUEST_ID, requestIdText);
    headers.set(Headers.X_CUSTOMER_ID, customerId);
    headers.set(Headers.X_CUSTOMER_NAME, customerName);
    headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    headers.set(HttpHeaderNames.CONTENT_LENGTH, Headers.contentLength(declaredLength, content.readableBytes()));

    int connectMillis = (int) Math.min(Integer.MAX_VALUE, product.connectTimeout().toMillis());
    exchange = new Exchange(this, ctx, services, snap, endpoint, pools.health(), pool(origin, connectMillis),
        request.method(), origin.pathPrefix().isEmpty() ? target : origin.pathPrefix() + target, headers, content,
        requestId, keepAlive, startNanos, admitted, stripUsageChunk, path, scan.model());
    body = null; // the exchange's request owns it now
    exchange.start();
  }

  /**
   * The header-safe values of {@code sub}'s identity headers, made once per connection and
   * subscription (a name that needs percent-encoding took ~450 bytes per call).
   */
  private void identify(Subscription sub) {
    if (sub != identified) {
      customerId = Headers.headerSafe(sub.buyerId());
      customerName = Headers.headerSafe(sub.buyerName());
      identified = sub;
    }
  }

  /** The backend pool of {@code origin} on this connection's loop: the last call's, when the same. */
  private OriginPool pool(Origin origin, int connectMillis) {
    if (origin != lastOrigin || connectMillis != lastConnectMillis || lastPool == null) {
      lastPool = pools.pool(ctx.channel().eventLoop(), origin, connectMillis);
      lastOrigin = origin;
      lastConnectMillis = connectMillis;
    }
    return lastPool;
  }

  private void answerModels(SubscriptionSnapshot snap) {
    StringBuilder sb = new StringBuilder("{\"object\":\"list\",\"data\":[");
    long created = snap.sku().createdAt() == null ? 0 : snap.sku().createdAt().getEpochSecond();
    String owner = quote(snap.product().name());
    for (String model : snap.sku().models()) {
      if (sb.charAt(sb.length() - 1) != '[') {
        sb.append(',');
      }
      sb.append("{\"id\":\"").append(quote(model))
          .append("\",\"object\":\"model\",\"created\":").append(created)
          .append(",\"owned_by\":\"").append(owner).append("\"}");
    }
    sb.append("]}");
    sendJson(200, sb.toString().getBytes(StandardCharsets.UTF_8), snap.product().id());
  }

  private static String quote(String s) {
    return new String(JsonStringEncoder.getInstance().quoteAsString(s));
  }

  private void answerSubscription(SubscriptionSnapshot snap) {
    services.subscriptionView().render(snap).whenComplete((json, error) -> ctx.executor().execute(() -> {
      if (!ctx.channel().isActive()) {
        return;
      }
      if (error != null) {
        reject(ApiError.storeUnavailable(), snap.product().id());
      } else {
        sendJson(200, json, snap.product().id());
      }
    }));
  }

  /**
   * A licence API request ({@link LicenceApi}): its body is copied out (the size limit bounds it)
   * and answered off the event loop; the answer, signed there, is written back here as it is.
   */
  private void answerLicence() {
    String path = Route.pathOf(request.uri());
    byte[] bytes = ByteBufUtil.getBytes(body);
    services.licence().answer(request.method().name(), path, bytes).whenComplete((a, error) ->
        ctx.executor().execute(() -> {
          if (!ctx.channel().isActive()) {
            return;
          }
          if (error != null) {
            log.warn("licence request {} {} failed: {}", request.method().name(), path, error.toString());
            reject(ApiError.storeUnavailable(), ProxyMetrics.NO_PRODUCT);
          } else if (a == null) {
            reject(ApiError.unknownUrl(path), ProxyMetrics.NO_PRODUCT);
          } else {
            FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(a.status()), ctx.alloc().buffer(a.body().length).writeBytes(a.body()));
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, a.body().length);
            if (a.signature() != null) {
              r.headers().set(SIGNATURE, a.signature());
            }
            if (a.retryAfterSeconds() > 0) {
              r.headers().set(HttpHeaderNames.RETRY_AFTER, a.retryAfterSeconds());
            }
            String productId = a.productId() == null ? ProxyMetrics.NO_PRODUCT : a.productId();
            endedLicence(a, productId);
            writeAnswer(r);
          }
        }));
  }

  private static final AsciiString SIGNATURE = AsciiString.cached("x-tollgate-signature");

  private void sendJson(int status, byte[] json, String productId) {
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status),
        ctx.alloc().buffer(json.length).writeBytes(json));
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .setInt(HttpHeaderNames.CONTENT_LENGTH, json.length);
    ended(status, productId, json.length);
    writeAnswer(r);
  }

  /** A gateway refusal: counted in metrics, never in usage. */
  private void reject(ApiError error, String productId) {
    FullHttpResponse r = errorResponse(error);
    ended(error.status(), productId, r.content().readableBytes());
    writeAnswer(r);
  }

  /**
   * A call the buyer port answers itself has ended (its answer is about to be written): counted in
   * the {@code tollgate_*} meters under {@code productId} ({@link ProxyMetrics#NO_PRODUCT} when
   * none), and told to the observer with what is known of it. Never reached the upstream.
   */
  private void ended(int status, String productId, long bytesOut) {
    long nanos = System.nanoTime() - startNanos;
    services.metrics().product(productId).record(status, nanos);
    SubscriptionSnapshot s = callSnap;
    services.ended(new CallSummary(requestId, s == null ? null : s.subscription().id(),
        s == null ? null : s.product().id(), s == null ? null : s.sku().id(),
        s == null ? null : s.product().protocol().wireName(), callModel, headMethod,
        headUri == null ? null : Route.pathOf(headUri), status, 0, nanos, -1, 0, 0, false, bytesOut, null),
        s != null && callModel != null && s.sku().models().contains(callModel));
  }

  /** A licence call has ended: as {@link #ended}, with the ids the licence service found for its code. */
  private void endedLicence(LicenceApi.Answer a, String productId) {
    long nanos = System.nanoTime() - startNanos;
    services.metrics().product(productId).record(a.status(), nanos);
    services.ended(new CallSummary(requestId, a.subscriptionId(), a.productId(), a.skuId(),
        a.productId() == null ? null : Protocol.LICENCE.wireName(), null, headMethod, headUri == null ? null : Route.pathOf(headUri),
        a.status(), 0, nanos, -1, 0, 0, false, a.body().length, null), false);
  }

  /** A new request's id; until its key names a product, its route decides the answer's shape. */
  private void newRequest(String uri) {
    requestId = randomUuid();
    requestIdText = AnswerHeaders.requestId(requestId);
    anthropic = uri != null && Route.isAnthropicMessages(uri);
    limitsOf = null;
    headUri = uri;
    headMethod = null;
    callSnap = null;
    callModel = null;
  }

  /** Sets the current answer's tollgate headers (request id, rate limits, quota): {@link AnswerHeaders}. */
  void answerHeaders(HttpHeaders h) {
    AnswerHeaders.add(h, requestIdText, anthropic, limitsOf, services.metering());
  }

  /** {@code error} in the shape the current request is answered in. */
  FullHttpResponse errorResponse(ApiError error) {
    return ErrorResponses.response(error, anthropic, ctx.alloc());
  }

  /** The extractor a finished call left, for the next call on this connection (then forgotten). */
  UsageExtractor takeSpareExtractor() {
    UsageExtractor e = spareExtractor;
    spareExtractor = null;
    return e;
  }

  /**
   * Sends what was flushed to this connection to the kernel now, not when the loop's iteration
   * ends (io_uring; on epoll a flush already has): a call's journaled end leaves at once.
   */
  void writeOutNow() {
    LoopEnds ends = loopEnds();
    if (ends != null) {
      ends.submitNow();
    }
  }

  /** Where a completed call's end waits for its loop's turn to end: null where a flush writes at once. */
  LoopEnds loopEnds() {
    if (!loopEndsKnown) {
      loopEnds = LoopEnds.of(ctx.channel(), services.recorder());
      loopEndsKnown = true;
    }
    return loopEnds;
  }

  /** A completed call's extractor that nothing reads any more (its usage was recorded). */
  void spareExtractor(UsageExtractor extractor) {
    spareExtractor = extractor;
  }

  /** Called by the exchange when it failed before the upstream's head reached the buyer: its error answer. */
  void sendAnswer(FullHttpResponse answer) {
    writeAnswer(answer);
  }

  private void writeAnswer(FullHttpResponse r) {
    writeAnswer(r, request != null && HttpUtil.isKeepAlive(request));
  }

  private void writeAnswer(FullHttpResponse r, boolean requestKeepAlive) {
    boolean keepAlive = requestKeepAlive && !closeWhenIdle;
    answerHeaders(r.headers());
    if (!keepAlive) {
      r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    ctx.writeAndFlush(r).addListener((ChannelFutureListener) f -> exchangeEnded(keepAlive && f.isSuccess()));
  }

  private void sendAndClose(ApiError error) {
    FullHttpResponse r = errorResponse(error);
    answerHeaders(r.headers());
    r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    ended(error.status(), ProxyMetrics.NO_PRODUCT, r.content().readableBytes());
    lingering = true;
    ctx.writeAndFlush(r).addListener(f -> lingerThenClose(f.isSuccess()));
  }

  /**
   * A lingering close, as nginx does it: the answer is out, but the buyer may still be sending the
   * body we refused. Closing now, with its bytes unread, makes the kernel send a reset, and the
   * reset can destroy the answer before the buyer's client has read it. So the write side is shut
   * (the buyer sees the end of the answer), and what still arrives is read and dropped until the
   * buyer closes or {@link #LINGER_MILLIS} pass.
   */
  private void lingerThenClose(boolean written) {
    if (!written || !ctx.channel().isActive() || !(ctx.channel() instanceof DuplexChannel duplex)) {
      ctx.close();
      return;
    }
    pending = releaseAll(pending);
    duplex.shutdownOutput();
    ctx.channel().config().setAutoRead(true);
    ctx.executor().schedule(() -> {
      ctx.close();
    }, LINGER_MILLIS, TimeUnit.MILLISECONDS);
  }

  /**
   * The answer to the current request has been written; read the next one: first what waits in
   * {@code pending}, then, once no call is in flight, from the connection again.
   */
  void exchangeEnded(boolean keepAlive) {
    exchange = null;
    request = null;
    releaseBody();
    busy = false;
    idleSince = System.nanoTime();
    if (!keepAlive || closeWhenIdle) {
      // Draining: what the buyer pipelined behind this call is left unanswered (clients retry it).
      ctx.close();
      return;
    }
    if (draining) {
      return; // a call answered at once from the loop below, further up the stack: it reads on
    }
    draining = true;
    try {
      while (!busy && !lingering && pending != null && !pending.isEmpty() && ctx.channel().isActive()) {
        Object next = pending.poll();
        pendingBytes -= sizeOf(next);
        read(next);
      }
    } finally {
      draining = false;
    }
    if (!busy && !lingering && ctx.channel().isActive()) {
      if (request == null && headTimer != null) {
        headTimer.awaitHead();
      }
      if (!ctx.channel().config().isAutoRead()) {
        ctx.channel().config().setAutoRead(true); // from off, this also asks for a read
      }
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable() && exchange != null) {
      exchange.onBuyerWritable();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt == BuyerServer.DRAIN) {
      closeWhenIdle = true;
      if (!busy && !lingering && request == null) {
        ctx.close(); // idle (a head half read counts as idle: no call has started)
      }
      return;
    }
    if (evt == RequestHeadTimer.EXPIRED) {
      if (!busy && !lingering && request == null) {
        startNanos = headTimer.firstByteNanos();
        newRequest(null);
        busy = true;
        sendAndClose(ApiError.requestHeadTimeout());
      }
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (idleCheck != null) {
      idleCheck.cancel(false);
      idleCheck = null;
    }
    if (responseCheck != null) {
      responseCheck.cancel(false);
      responseCheck = null;
    }
    Exchange ex = exchange;
    exchange = null;
    if (ex != null) {
      ex.onBuyerClosed();
    }
    releaseBody();
    pending = releaseAll(pending);
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!(cause instanceof IOException)) {
      // Not the buyer's socket failing (a reset, a broken pipe): a bug on this path, which closes
      // the connection with its call unanswered. It must show (once such a close went unseen).
      log.warn("buyer connection {} closed on an unexpected error", ctx.channel().remoteAddress(), cause);
    }
    ctx.close();
  }

  private static ArrayDeque<Object> releaseAll(ArrayDeque<Object> messages) {
    if (messages != null) {
      messages.forEach(ReferenceCountUtil::release);
    }
    return null;
  }

  private void releaseBody() {
    if (body != null) {
      body.release();
      body = null;
    }
  }

  /** A version-4 UUID from the thread's fast random: request ids need uniqueness, not secrecy. */
  private static UUID randomUuid() {
    java.util.concurrent.ThreadLocalRandom r = java.util.concurrent.ThreadLocalRandom.current();
    long msb = (r.nextLong() & ~0xF000L) | 0x4000L;
    long lsb = (r.nextLong() & ~(0xC000L << 48)) | (0x8000L << 48);
    return new UUID(msb, lsb);
  }
}
