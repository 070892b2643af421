package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderResultProvider;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link BuyerCodec} and {@link BackendCodec} against Netty's {@code HttpServerCodec} and {@code
 * HttpClientCodec} with the same configuration: every byte sequence, whole or split anywhere,
 * plain or odd, must decode to the same messages (method or status, target, version, fields in
 * order, success or failure, body pieces, last content), and answers must be encoded alike. Plain
 * heads must be read without Netty's decoder ({@code plainHeads}), odd ones with it.
 */
class HeadParserTest {

  static final String BODY = "{\"model\":\"mock-gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  static String post(String extraFields) {
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
        + "Authorization: Bearer tg_live_abcdef0123456789\r\nContent-Type: application/json\r\n" + extraFields
        + "Content-Length: " + BODY.length() + "\r\n\r\n" + BODY;
  }

  static final String ANSWER_BODY = "{\"id\":\"chatcmpl-1\",\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":1}}";

  static String answer(String statusLine, String extraFields) {
    return statusLine + "\r\nServer: nginx\r\nContent-Type: application/json\r\n" + extraFields
        + "Content-Length: " + ANSWER_BODY.length() + "\r\n\r\n" + ANSWER_BODY;
  }

  // ---- requests

  static final List<String> PLAIN_REQUESTS = List.of(
      post(""),
      post("X-Stainless-Lang: java\r\nUser-Agent: OpenAI/Java 4.8.0\r\nAccept: */*\r\n"),
      post("X-Empty:\r\nX-Tabs:\t padded \t\r\n"),
      "GET /v1/models HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /v1/models?limit=2&after=x%20y HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
      "DELETE /v1/files/f1 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
      "PUT /x HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc",
      "PATCH /x HTTP/1.1\r\nCONTENT-LENGTH: 2\r\nExpect: 100-continue\r\n\r\nab",
      // as the official SDKs send theirs
      "POST /v1/chat/completions HTTP/1.1\r\nAccept: application/json\r\nAuthorization: Bearer tg_live_k\r\n"
          + "User-Agent: OpenAI/Java 4.8.0\r\nX-Stainless-Arch: x64\r\nX-Stainless-Lang: java\r\n"
          + "X-Stainless-OS: Linux\r\nX-Stainless-Package-Version: 4.8.0\r\nX-Stainless-Runtime: JRE\r\n"
          + "X-Stainless-Runtime-Version: 17.0.15\r\nX-Stainless-Retry-Count: 0\r\n"
          + "X-Stainless-Timeout: 600\r\nContent-Type: application/json\r\nContent-Length: " + BODY.length()
          + "\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive\r\nAccept-Encoding: gzip\r\n\r\n" + BODY,
      "POST /v1/messages HTTP/1.1\r\nanthropic-version: 2023-06-01\r\nx-api-key: tg_live_k\r\n"
          + "content-type: application/json\r\ncontent-length: " + BODY.length() + "\r\nhost: h\r\n\r\n" + BODY);

  static final List<String> ODD_REQUESTS = List.of(
      "HEAD /v1/models HTTP/1.1\r\nHost: h\r\n\r\n",
      "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
      "TRACE / HTTP/1.1\r\nHost: h\r\n\r\n",
      "get / HTTP/1.1\r\nHost: h\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
      "POST / HTTP/1.1\r\nContent-Length: 03\r\n\r\nabc",
      "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc",
      "POST / HTTP/1.1\r\nContent-Length: 3 4\r\n\r\nabc",
      "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n",
      "GET / HTTP/1.1\nHost: h\n\n",
      "GET / HTTP/1.1\r\nHost: h\n\r\n",
      "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
      "GET / HTTP/1.1\r\nHo(st: h\r\n\r\n",
      "GET / HTTP/1.1\r\n: h\r\n\r\n",
      "GET / HTTP/1.1\r\nHost h\r\n\r\n",
      "GET / HTTP/1.1\r\nX-Ctl: a\u0001b\r\n\r\n",
      "GET / HTTP/1.1\r\nX-Del: a\u007fb\r\n\r\n",
      "GET / HTTP/1.1\r\nX-High: caf\u00e9\r\n\r\n",
      "GET / HTTP/1.1\r\nX-Cr: a\rb\r\n\r\n",
      "GET /caf\u00e9 HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
      "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.2\r\nHost: h\r\n\r\n",
      "GET / http/1.1\r\nHost: h\r\n\r\n",
      "GET /\r\nHost: h\r\n\r\n",
      "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Key1: 1\r\nSec-WebSocket-Key2: 2\r\n\r\n12345678",
      "GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + "v".repeat(9000) + "\r\n\r\n",
      "GET /" + "p".repeat(9000) + " HTTP/1.1\r\nHost: h\r\n\r\n");

  static EmbeddedChannel buyerCodec() {
    return new EmbeddedChannel(new BuyerCodec(BuyerServer.DECODER, BuyerServer.MAX_CHUNK_SIZE));
  }

  static EmbeddedChannel nettyServerCodec() {
    return new EmbeddedChannel(new HttpServerCodec(BuyerServer.DECODER));
  }

  @Test
  void plainRequests_decodeAsNettyDecodesThem_withoutNettysDecoder_wholeOrSplitAnywhere() {
    for (String r : PLAIN_REQUESTS) {
      byte[] bytes = r.getBytes(StandardCharsets.ISO_8859_1);
      assertSameRequests(bytes, new int[0]);
      for (int cut = 1; cut < bytes.length; cut++) {
        assertSameRequests(bytes, new int[] {cut});
      }
      BuyerCodec codec = new BuyerCodec(BuyerServer.DECODER, BuyerServer.MAX_CHUNK_SIZE);
      List<String> got = decode(new EmbeddedChannel(codec), bytes, new int[0]);
      assertThat(codec.plainHeads()).as(r).isEqualTo(1);
      assertThat(got.get(0)).as(r).contains("success");
    }
  }

  @Test
  void oddRequests_goToNettysDecoder_andDecodeAsThere() {
    for (String r : ODD_REQUESTS) {
      byte[] bytes = r.getBytes(StandardCharsets.ISO_8859_1);
      BuyerCodec codec = new BuyerCodec(BuyerServer.DECODER, BuyerServer.MAX_CHUNK_SIZE);
      decode(new EmbeddedChannel(codec), bytes, new int[0]);
      assertThat(codec.plainHeads()).as(r).isZero();
      assertSameRequests(bytes, new int[0]);
      assertSameRequests(bytes, new int[] {bytes.length / 2});
    }
  }

  @Test
  void pipelinedRequests_plainAndOdd_inAnyOrder_decodeAsNettyDecodesThem() {
    Random random = new Random(8);
    List<String> all = new ArrayList<>(PLAIN_REQUESTS);
    all.addAll(ODD_REQUESTS.subList(0, 6)); // HEAD, CONNECT, TRACE, lower case, chunked, chunked + length
    for (int round = 0; round < 400; round++) {
      StringBuilder sb = new StringBuilder();
      int n = 2 + random.nextInt(3);
      for (int i = 0; i < n; i++) {
        sb.append(all.get(random.nextInt(all.size())));
      }
      byte[] bytes = sb.toString().getBytes(StandardCharsets.ISO_8859_1);
      assertSameRequests(bytes, new int[0]);
      assertSameRequests(bytes, randomCuts(random, bytes.length));
    }
  }

  @Test
  void mutatedRequests_decodeAsNettyDecodesThem() {
    Random random = new Random(88);
    byte[] alphabet = " \t\r\n:;,0aZ~\u0000\u007f".getBytes(StandardCharsets.ISO_8859_1);
    byte[][] bases = PLAIN_REQUESTS.stream().map(s -> s.getBytes(StandardCharsets.ISO_8859_1)).toArray(byte[][]::new);
    for (int round = 0; round < 3000; round++) {
      byte[] bytes = mutate(random, bases[random.nextInt(bases.length)], alphabet);
      assertSameRequests(bytes, random.nextBoolean() ? new int[0] : randomCuts(random, bytes.length));
    }
  }

  @Test
  void answersToPipelinedHeadAndConnect_areEncodedAsNettyEncodesThem() {
    String head = "HEAD /v1/models HTTP/1.1\r\nHost: h\r\n\r\n";
    String connect = "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n";
    List<List<String>> orders = List.of(
        List.of(post(""), head, post("")),
        List.of(head, post(""), head),
        List.of(post(""), connect),
        List.of(PLAIN_REQUESTS.get(3), head, PLAIN_REQUESTS.get(5)));
    for (List<String> order : orders) {
      byte[] requests = String.join("", order).getBytes(StandardCharsets.ISO_8859_1);
      assertThat(answered(buyerCodec(), requests, order.size()))
          .as(order.toString())
          .isEqualTo(answered(nettyServerCodec(), requests, order.size()));
    }
  }

  @Test
  void chunkedAnswers_areEncodedAsNettyEncodesThem_byteForByte() {
    String head = "HEAD /v1/models HTTP/1.1\r\nHost: h\r\n\r\n";
    String connect = "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n";
    record Case(String requests, int encodedHere, List<java.util.function.Supplier<Object>> writes) {}
    List<Case> cases = List.of(
        new Case(post(""), 1, List.of(() -> chunkedHead(HttpResponseStatus.OK), () -> content("abc"),
            () -> content(""), () -> content("x".repeat(300)), () -> LastHttpContent.EMPTY_LAST_CONTENT)),
        new Case(post(""), 1, List.of(() -> chunkedHead(HttpResponseStatus.OK),
            () -> withTrailers("xyz"))),
        new Case(post(""), 1, List.of(() -> chunkedHead(HttpResponseStatus.OK),
            () -> Unpooled.copiedBuffer("raw", StandardCharsets.US_ASCII), () -> Unpooled.EMPTY_BUFFER,
            () -> withTrailers(""))),
        new Case(post("") + post(""), 1, List.of(() -> {
          HttpResponse r = chunkedHead(HttpResponseStatus.INTERNAL_SERVER_ERROR);
          r.setProtocolVersion(HttpVersion.HTTP_1_0);
          return r;
        }, () -> new io.netty.handler.codec.http.DefaultLastHttpContent(Unpooled.copiedBuffer("0123456789abcdefg",
            StandardCharsets.US_ASCII)), () -> fixedAnswer("ok"))),
        new Case(head, 0, List.of(() -> chunkedHead(HttpResponseStatus.OK), () -> LastHttpContent.EMPTY_LAST_CONTENT)),
        new Case(connect, 0, List.of(() -> chunkedHead(HttpResponseStatus.OK), () -> LastHttpContent.EMPTY_LAST_CONTENT)),
        new Case(post("") + head + post(""), 2, List.of(() -> chunkedHead(HttpResponseStatus.OK), () -> content("a"),
            () -> LastHttpContent.EMPTY_LAST_CONTENT, () -> chunkedHead(HttpResponseStatus.OK),
            () -> LastHttpContent.EMPTY_LAST_CONTENT, () -> chunkedHead(HttpResponseStatus.TOO_MANY_REQUESTS),
            () -> withTrailers("{}"))),
        new Case(post(""), 1, List.of(() -> new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE),
            () -> {
              HttpResponse r = chunkedHead(HttpResponseStatus.OK);
              r.headers().add("X-Name", "caf\u00e9 \u4e2d");
              return r;
            }, () -> content("b"), () -> LastHttpContent.EMPTY_LAST_CONTENT)),
        new Case(post("") + post(""), 1, List.of(() -> {
          HttpResponse r = chunkedHead(HttpResponseStatus.NO_CONTENT);
          return r;
        }, () -> LastHttpContent.EMPTY_LAST_CONTENT, () -> chunkedHead(HttpResponseStatus.OK),
            () -> LastHttpContent.EMPTY_LAST_CONTENT)),
        new Case(post(""), 0, List.of(() -> fixedAnswer("abc"))),
        new Case(post(""), 1, List.of(() -> chunked(new io.netty.handler.codec.http.DefaultHttpResponse(
            HttpVersion.HTTP_1_1, HttpResponseStatus.OK)), () -> content("netty's own table"), () -> withTrailers(""))),
        // out of order: a head inside a chunked answer fails as in Netty's encoder
        new Case(post("") + post(""), 1, List.of(() -> chunkedHead(HttpResponseStatus.OK), () -> fixedAnswer("no"),
            () -> content("c"), () -> LastHttpContent.EMPTY_LAST_CONTENT)));
    for (Case c : cases) {
      byte[] requests = c.requests().getBytes(StandardCharsets.ISO_8859_1);
      BuyerCodec codec = new BuyerCodec(BuyerServer.DECODER, BuyerServer.MAX_CHUNK_SIZE);
      String got = written(new EmbeddedChannel(codec), requests, c.writes());
      assertThat(codec.chunkedHeads()).as(got).isEqualTo(c.encodedHere());
      assertThat(got).isEqualTo(written(nettyServerCodec(), requests, c.writes()));
    }
  }

  @Test
  void decodedHeads_forwarded_areEncodedAsNettyEncodesThem() {
    for (String request : PLAIN_REQUESTS) {
      EmbeddedChannel in = buyerCodec();
      in.writeInbound(Unpooled.copiedBuffer(request, StandardCharsets.ISO_8859_1));
      HttpRequest decoded = in.readInbound();
      assertThat(decoded.headers()).isInstanceOf(FlatHeaders.class);
      decoded.headers().add("X-Added", "caf\u00e9").set(HttpHeaderNames.CONNECTION, "keep-alive");
      in.finishAndReleaseAll();
      java.util.function.Function<EmbeddedChannel, String> send = ch -> {
        ch.writeOutbound(new DefaultFullHttpRequest(decoded.protocolVersion(), decoded.method(), decoded.uri(),
            Unpooled.copiedBuffer("{}", StandardCharsets.US_ASCII), decoded.headers(),
            io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE));
        return outbound(ch);
      };
      assertThat(send.apply(backendCodec())).as(request).isEqualTo(send.apply(nettyClientCodec()));
    }
    for (String answer : PLAIN_ANSWERS) {
      EmbeddedChannel in = backendCodec();
      in.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/"));
      outbound(in);
      in.writeInbound(Unpooled.copiedBuffer(answer, StandardCharsets.ISO_8859_1));
      HttpResponse decoded = in.readInbound();
      assertThat(decoded.headers()).isInstanceOf(FlatHeaders.class);
      decoded.headers().add("x-request-id", "id-1").add(io.netty.util.AsciiString.cached("x-n"),
          new io.netty.util.AsciiString("(7)".getBytes(StandardCharsets.US_ASCII), 1, 1, false));
      in.finishAndReleaseAll();
      java.util.function.Function<EmbeddedChannel, String> answerWith = ch -> {
        ch.writeInbound(Unpooled.copiedBuffer(post(""), StandardCharsets.ISO_8859_1));
        drain(ch);
        ch.writeOutbound(new DefaultFullHttpResponse(decoded.protocolVersion(), decoded.status(),
            Unpooled.copiedBuffer("body", StandardCharsets.US_ASCII), decoded.headers(),
            io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE));
        return outbound(ch);
      };
      assertThat(answerWith.apply(buyerCodec())).as(answer).isEqualTo(answerWith.apply(nettyServerCodec()));
    }
  }

  private static String outbound(EmbeddedChannel ch) {
    StringBuilder sb = new StringBuilder();
    for (Object o; (o = ch.readOutbound()) != null; ) {
      ByteBuf b = (ByteBuf) o;
      sb.append(b.toString(StandardCharsets.ISO_8859_1));
      b.release();
    }
    return sb.toString();
  }

  /** A chunked head with a table as decoded answers have ({@link FlatHeaders}), which is encoded without an iterator. */
  private static HttpResponse chunkedHead(HttpResponseStatus status) {
    HttpResponse r = new io.netty.handler.codec.http.DefaultHttpResponse(HttpVersion.HTTP_1_1, status, new FlatHeaders());
    return chunked(r);
  }

  private static HttpResponse chunked(HttpResponse r) {
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream");
    r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
    r.headers().set("x-request-id", "0f6b1c9e-0000-4000-8000-000000000001");
    // AsciiStrings, as from a decoded head: one a view into a larger array
    r.headers().add(io.netty.util.AsciiString.cached("x-ratelimit-remaining-requests"),
        new io.netty.util.AsciiString("[[41]]".getBytes(StandardCharsets.US_ASCII), 2, 2, false));
    return r;
  }

  private static HttpContent content(String s) {
    return new io.netty.handler.codec.http.DefaultHttpContent(Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII));
  }

  private static LastHttpContent withTrailers(String s) {
    LastHttpContent last = new io.netty.handler.codec.http.DefaultLastHttpContent(
        Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII));
    last.trailingHeaders().add("X-Trailer", "1").add("grpc-status", "0");
    return last;
  }

  private static DefaultFullHttpResponse fixedAnswer(String body) {
    DefaultFullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
        Unpooled.copiedBuffer(body, StandardCharsets.US_ASCII));
    r.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length());
    return r;
  }

  /** Reads the requests, then writes each message (the last with a promise of its own): the bytes and outcomes. */
  private static String written(EmbeddedChannel ch, byte[] requests, List<java.util.function.Supplier<Object>> writes) {
    ch.writeInbound(Unpooled.wrappedBuffer(requests));
    drain(ch);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < writes.size(); i++) {
      try {
        io.netty.channel.ChannelFuture f = i == writes.size() - 1
            ? ch.writeAndFlush(writes.get(i).get()) : ch.writeAndFlush(writes.get(i).get(), ch.voidPromise());
        if (i == writes.size() - 1) {
          sb.append(f.isSuccess() ? "[written]" : "[failed " + f.cause() + "]");
        }
        ch.checkException();
      } catch (RuntimeException e) {
        sb.append("[").append(e.getClass().getSimpleName()).append(" of ")
            .append(e.getCause() == null ? null : e.getCause().getClass().getSimpleName()).append("]");
      }
      for (Object o; (o = ch.readOutbound()) != null; ) {
        ByteBuf b = (ByteBuf) o;
        sb.append(b.toString(StandardCharsets.ISO_8859_1));
        b.release();
      }
    }
    ch.finishAndReleaseAll();
    return sb.toString();
  }

  @Test
  void aHeadPipelinedBehindA100ContinueRequest_getsItsOwnBodilessAnswer() {
    String expecting = "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
        + "Content-Length: 2\r\n\r\n{}";
    String head = "HEAD /v1/models HTTP/1.1\r\nHost: h\r\n\r\n";
    EmbeddedChannel ch = buyerCodec();
    ch.writeInbound(Unpooled.copiedBuffer(expecting + head, StandardCharsets.ISO_8859_1));
    drain(ch);
    ch.writeOutbound(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
    for (String body : List.of("posted", "models")) {
      DefaultFullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
          Unpooled.copiedBuffer(body, StandardCharsets.US_ASCII));
      r.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length());
      ch.writeOutbound(r);
    }
    StringBuilder sb = new StringBuilder();
    for (Object o; (o = ch.readOutbound()) != null; ) {
      ByteBuf b = (ByteBuf) o;
      sb.append(b.toString(StandardCharsets.ISO_8859_1));
      b.release();
    }
    ch.finishAndReleaseAll();
    // The POST's answer keeps its body; the HEAD's does not.
    assertThat(sb.toString()).isEqualTo("HTTP/1.1 100 Continue\r\n\r\n"
        + "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nposted"
        + "HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n");
  }

  /** Reads the requests, then answers each with a body and {@code Transfer-Encoding: chunked} too. */
  private static String answered(EmbeddedChannel ch, byte[] requests, int count) {
    ch.writeInbound(Unpooled.wrappedBuffer(requests));
    drain(ch);
    for (int i = 0; i < count; i++) {
      DefaultFullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
          Unpooled.copiedBuffer("answer" + i, StandardCharsets.US_ASCII));
      r.headers().set(HttpHeaderNames.CONTENT_LENGTH, 7);
      r.headers().set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
      ch.writeOutbound(r);
    }
    StringBuilder sb = new StringBuilder();
    for (Object o; (o = ch.readOutbound()) != null; ) {
      ByteBuf b = (ByteBuf) o;
      sb.append(b.toString(StandardCharsets.ISO_8859_1));
      b.release();
    }
    ch.finishAndReleaseAll();
    return sb.toString();
  }

  // ---- answers

  static final String SSE_EVENT = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":"
      + "[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";

  static String chunk(String data) {
    return Integer.toHexString(data.length()) + "\r\n" + data + "\r\n";
  }

  static final List<String> PLAIN_ANSWERS = List.of(
      answer("HTTP/1.1 200 OK", ""),
      answer("HTTP/1.1 200 OK", "openai-processing-ms: 12\r\nx-request-id: req_1\r\nDate: Wed, 02 Dec 2026 07:00:00 GMT\r\n"),
      answer("HTTP/1.0 200 OK", "Connection: close\r\n"),
      answer("HTTP/1.1 200 Fine by me", ""),
      answer("HTTP/1.1 429 Too Many Requests", "Retry-After: 3\r\n"),
      answer("HTTP/1.1 503 Service Unavailable", "X-Empty:\r\n"),
      // as OpenAI answers, behind its CDN
      answer("HTTP/1.1 200 OK", "Date: Thu, 03 Dec 2026 19:00:00 GMT\r\nConnection: keep-alive\r\n"
          + "access-control-expose-headers: X-Request-ID\r\nopenai-organization: user-abc\r\n"
          + "openai-processing-ms: 412\r\nopenai-version: 2020-10-01\r\nx-ratelimit-limit-requests: 10000\r\n"
          + "x-ratelimit-remaining-tokens: 29999978\r\nx-ratelimit-reset-requests: 6ms\r\n"
          + "x-request-id: req_0123456789abcdef\r\nstrict-transport-security: max-age=31536000; includeSubDomains; preload\r\n"
          + "cf-cache-status: DYNAMIC\r\nset-cookie: __cf_bm=a.b-c; path=/; expires=Thu, 03-Dec-26 19:30:00 GMT; "
          + "domain=.api.openai.com; HttpOnly; Secure; SameSite=None\r\nX-Content-Type-Options: nosniff\r\n"
          + "Server: cloudflare\r\nCF-RAY: 8f0123456789abcd-SJC\r\nalt-svc: h3=\":443\"; ma=86400\r\n"),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
      // chunked: an event stream as the OpenAI API sends one, and odd but plain sizes
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n"
          + "Connection: keep-alive\r\nx-request-id: req_1\r\n\r\n" + chunk(SSE_EVENT) + chunk(SSE_EVENT)
          + chunk("data: [DONE]\n\n") + "0\r\n\r\n",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\n003\r\nabc\r\nA\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
      "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding:\tchunked \r\n\r\n0\r\n\r\n");

  static final List<String> ODD_ANSWERS = List.of(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x\n\n",
      "HTTP/1.1 204 No Content\r\n\r\n",
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\n" + answer("HTTP/1.1 200 OK", ""),
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
      "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200  OK\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
      "http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
      "HTTP/1.1 200 OK\r\nX-Ctl: \u0001\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nX-High: \u00e9\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nSec-WebSocket-Location: x\r\nContent-Length: 2\r\n\r\nok",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nabc");

  static EmbeddedChannel backendCodec() {
    return new EmbeddedChannel(new BackendCodec(BackendPools.DECODER, BackendPools.MAX_CHUNK_SIZE));
  }

  static EmbeddedChannel nettyClientCodec() {
    return new EmbeddedChannel(new HttpClientCodec(BackendPools.DECODER,
        HttpClientCodec.DEFAULT_PARSE_HTTP_AFTER_CONNECT_REQUEST, false));
  }

  @Test
  void plainAnswers_decodeAsNettyDecodesThem_withoutNettysDecoder_wholeOrSplitAnywhere() {
    for (String a : PLAIN_ANSWERS) {
      byte[] bytes = a.getBytes(StandardCharsets.ISO_8859_1);
      assertSameAnswers(HttpMethod.POST, bytes, new int[0]);
      for (int cut = 1; cut < bytes.length; cut++) {
        assertSameAnswers(HttpMethod.POST, bytes, new int[] {cut});
      }
      BackendCodec codec = new BackendCodec(BackendPools.DECODER, BackendPools.MAX_CHUNK_SIZE);
      List<String> got = answers(new EmbeddedChannel(codec), HttpMethod.POST, 1, bytes, new int[0]);
      assertThat(codec.plainHeads()).as(a).isEqualTo(1);
      assertThat(got.get(0)).as(a).contains("success");
    }
  }

  @Test
  void oddAnswers_andAnswersToHeadOrConnect_goToNettysDecoder_andDecodeAsThere() {
    for (String a : ODD_ANSWERS) {
      byte[] bytes = a.getBytes(StandardCharsets.ISO_8859_1);
      BackendCodec codec = new BackendCodec(BackendPools.DECODER, BackendPools.MAX_CHUNK_SIZE);
      answers(new EmbeddedChannel(codec), HttpMethod.POST, 1, bytes, new int[0]);
      // The final answer after a 100 Continue is a plain one: only the 100 is Netty's.
      assertThat(codec.plainHeads()).as(a).isEqualTo(a.startsWith("HTTP/1.1 100") ? 1 : 0);
      assertSameAnswers(HttpMethod.POST, bytes, new int[0]);
      assertSameAnswers(HttpMethod.POST, bytes, new int[] {bytes.length / 2});
    }
    for (HttpMethod m : List.of(HttpMethod.HEAD, HttpMethod.CONNECT)) {
      byte[] bytes = (PLAIN_ANSWERS.get(0) + "after the answer").getBytes(StandardCharsets.ISO_8859_1);
      BackendCodec codec = new BackendCodec(BackendPools.DECODER, BackendPools.MAX_CHUNK_SIZE);
      answers(new EmbeddedChannel(codec), m, 1, bytes, new int[0]);
      assertThat(codec.plainHeads()).as(m.name()).isZero();
      assertSameAnswers(m, bytes, new int[0]);
    }
  }

  /** A plain chunked head, then body bytes that are not all plain. */
  static final String CHUNKED = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

  @Test
  void chunkedBodies_readHereWhilePlain_handedToNettyAtAnOddSizeLine_decodeAsNettyDecodesThem() {
    record Body(String bytes, boolean handedOff) {}
    List<Body> bodies = List.of(
        new Body("3\r\nabc\r\n0\r\n\r\n" + answer("HTTP/1.1 200 OK", ""), false), // and the next answer
        new Body("3\r\nabc\r\n0\r\n\r\n" + CHUNKED + "1\r\nx\r\n0\r\n\r\n", false),
        new Body("3\r\nabc", false), // cut short by the connection's end
        new Body("3\r\nabc\r\n", false),
        new Body("3\r\nabc\r\n0\r\n", false),
        new Body("3\r\nabc\r\n0\r\n\r", false),
        new Body("3\r\nabcXY1\r\nx\r\n0\r\n\r\n", false), // data not ended by CRLF: fails, the rest discarded
        new Body("3\r\nabc\n0\r\n\r\n", false),
        new Body("3;name=value\r\nabc\r\n0\r\n\r\n", true),
        new Body("3\r\nabc\r\n3;bad ext\r\nabc\r\n0\r\n\r\n", true),
        new Body("3 \r\nabc\r\n0\r\n\r\n", true),
        new Body(" 3\r\nabc\r\n0\r\n\r\n", true),
        new Body("3\nabc\r\n0\r\n\r\n", true),
        new Body("3\rabc\r\n0\r\n\r\n", true),
        new Body("00000003\r\nabc\r\n0\r\n\r\n", true),
        new Body("FFFFFFFFF\r\nabc", true),
        new Body("3g\r\nabc\r\n0\r\n\r\n", true),
        new Body("\r\n3\r\nabc\r\n0\r\n\r\n", true),
        new Body("3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n" + answer("HTTP/1.1 200 OK", ""), true),
        new Body("3\r\nabc\r\n0\r\nContent-Length: 9\r\nX-Bad Name: 1\r\n\r\n", true),
        new Body("3\r\nabc\r\n0\r\n\n", true),
        new Body("3\r\nabc\r\n0\r\n\rX", true),
        new Body("0;last\r\n\r\n", true));
    for (Body b : bodies) {
      byte[] bytes = (CHUNKED + b.bytes()).getBytes(StandardCharsets.ISO_8859_1);
      int count = b.bytes().contains("HTTP/1.1") ? 2 : 1;
      BackendCodec codec = new BackendCodec(BackendPools.DECODER, BackendPools.MAX_CHUNK_SIZE);
      List<String> got = answers(new EmbeddedChannel(codec), HttpMethod.POST, count, bytes, new int[0]);
      assertThat(codec.plainHeads()).as(b.bytes()).isEqualTo(count);
      assertThat(codec.handedOff()).as(b.bytes()).isEqualTo(b.handedOff() ? 1 : 0);
      assertThat(got).as(b.bytes()).isEqualTo(answers(nettyClientCodec(), HttpMethod.POST, count, bytes, new int[0]));
      for (int cut = 1; cut < bytes.length; cut++) {
        List<String> ours = answers(backendCodec(), HttpMethod.POST, count, bytes, new int[] {cut});
        List<String> netty = answers(nettyClientCodec(), HttpMethod.POST, count, bytes, new int[] {cut});
        assertThat(ours).as(b.bytes() + " cut at " + cut).isEqualTo(netty);
      }
    }
  }

  @Test
  void aChunkLargerThanTheChunkSize_arrivesInTheSamePiecesAsFromNettysDecoder() {
    String data = "x".repeat(BackendPools.MAX_CHUNK_SIZE + BackendPools.MAX_CHUNK_SIZE / 2 + 7);
    byte[] bytes = (CHUNKED + chunk(data) + chunk("tail") + "0\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    int head = CHUNKED.length();
    for (int[] cuts : List.of(new int[0], new int[] {head + 3}, new int[] {head + 10, head + 70_000},
        new int[] {head + 65_543, head + 65_544}, new int[] {bytes.length - 20, bytes.length - 2})) {
      BackendCodec codec = new BackendCodec(BackendPools.DECODER, BackendPools.MAX_CHUNK_SIZE);
      List<String> ours = answers(new EmbeddedChannel(codec), HttpMethod.POST, 1, bytes, cuts);
      assertThat(codec.plainHeads()).isEqualTo(1);
      assertThat(codec.handedOff()).isZero();
      assertThat(ours).as(java.util.Arrays.toString(cuts))
          .isEqualTo(answers(nettyClientCodec(), HttpMethod.POST, 1, bytes, cuts))
          .hasSizeGreaterThan(3);
    }
  }

  @Test
  void mutatedAndSuccessiveAnswers_decodeAsNettyDecodesThem() {
    Random random = new Random(888);
    byte[] alphabet = " \t\r\n:;,0aZ~\u0000\u007f".getBytes(StandardCharsets.ISO_8859_1);
    List<String> all = new ArrayList<>(PLAIN_ANSWERS);
    all.addAll(ODD_ANSWERS.subList(0, 4));
    for (int round = 0; round < 3000; round++) {
      byte[] bytes;
      int count = 1;
      if (round % 2 == 0) {
        bytes = mutate(random, PLAIN_ANSWERS.get(random.nextInt(PLAIN_ANSWERS.size()))
            .getBytes(StandardCharsets.ISO_8859_1), alphabet);
      } else {
        count = 2 + random.nextInt(2);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < count; i++) {
          sb.append(all.get(random.nextInt(all.size())));
        }
        bytes = sb.toString().getBytes(StandardCharsets.ISO_8859_1);
      }
      int[] cuts = random.nextBoolean() ? new int[0] : randomCuts(random, bytes.length);
      List<String> ours = answers(backendCodec(), HttpMethod.POST, count, bytes, cuts);
      List<String> netty = answers(nettyClientCodec(), HttpMethod.POST, count, bytes, cuts);
      assertThat(ours).as(new String(bytes, StandardCharsets.ISO_8859_1)).isEqualTo(netty);
    }
  }

  // ---- helpers

  private static void assertSameRequests(byte[] bytes, int[] cuts) {
    List<String> ours = decode(buyerCodec(), bytes, cuts);
    List<String> netty = decode(nettyServerCodec(), bytes, cuts);
    assertThat(ours).as(new String(bytes, StandardCharsets.ISO_8859_1) + " cut at " + java.util.Arrays.toString(cuts))
        .isEqualTo(netty);
  }

  private static void assertSameAnswers(HttpMethod method, byte[] bytes, int[] cuts) {
    List<String> ours = answers(backendCodec(), method, 1, bytes, cuts);
    List<String> netty = answers(nettyClientCodec(), method, 1, bytes, cuts);
    assertThat(ours).as(method + " " + new String(bytes, StandardCharsets.ISO_8859_1) + " cut at "
        + java.util.Arrays.toString(cuts)).isEqualTo(netty);
  }

  /** Sends {@code count} requests of {@code method}, then feeds the answer bytes. */
  private static List<String> answers(EmbeddedChannel ch, HttpMethod method, int count, byte[] bytes, int[] cuts) {
    for (int i = 0; i < count; i++) {
      ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, method, "/v1/chat/completions"));
    }
    for (Object o; (o = ch.readOutbound()) != null; ) {
      ReferenceCountUtil.release(o);
    }
    return decode(ch, bytes, cuts);
  }

  /** Feeds {@code bytes} in pieces ending at {@code cuts}, then closes; renders what was decoded. */
  private static List<String> decode(EmbeddedChannel ch, byte[] bytes, int[] cuts) {
    List<String> out = new ArrayList<>();
    int from = 0;
    for (int cut : cuts) {
      ch.writeInbound(Unpooled.wrappedBuffer(bytes, from, cut - from));
      out.addAll(drain(ch));
      from = cut;
    }
    ch.writeInbound(Unpooled.wrappedBuffer(bytes, from, bytes.length - from));
    out.addAll(drain(ch));
    ch.finish();
    out.addAll(drain(ch));
    return out;
  }

  private static List<String> drain(EmbeddedChannel ch) {
    List<String> out = new ArrayList<>();
    for (Object o; (o = ch.readInbound()) != null; ) {
      out.add(render(o));
      ReferenceCountUtil.release(o);
    }
    return out;
  }

  private static String render(Object o) {
    StringBuilder sb = new StringBuilder();
    if (o instanceof HttpRequest r) {
      sb.append("request ").append(r.method()).append(' ').append(r.uri()).append(' ').append(r.protocolVersion());
    }
    if (o instanceof HttpResponse r) {
      sb.append("answer ").append(r.protocolVersion()).append(' ').append(r.status().code())
          .append(" [").append(r.status().reasonPhrase()).append(']');
    }
    if (o instanceof io.netty.handler.codec.http.HttpMessage m) {
      sb.append(' ').append(FlatHeadersTest.fields(m.headers()));
    }
    if (o instanceof HttpContent c) {
      sb.append(o instanceof LastHttpContent ? " last " : " content ")
          .append(c.content().toString(StandardCharsets.ISO_8859_1));
      if (o instanceof LastHttpContent l && !l.trailingHeaders().isEmpty()) {
        sb.append(" trailers ").append(FlatHeadersTest.fields(l.trailingHeaders()));
      }
    }
    if (o instanceof ByteBuf b) {
      sb.append("bytes ").append(b.toString(StandardCharsets.ISO_8859_1));
    }
    if (o instanceof DecoderResultProvider p) {
      sb.append(p.decoderResult().isSuccess() ? " success" : " failure "
          + p.decoderResult().cause().getClass().getSimpleName() + ": " + p.decoderResult().cause().getMessage());
    }
    return sb.toString();
  }

  private static int[] randomCuts(Random random, int length) {
    if (length < 3) {
      return new int[0];
    }
    int a = 1 + random.nextInt(length - 1);
    int b = 1 + random.nextInt(length - 1);
    return a == b ? new int[] {a} : new int[] {Math.min(a, b), Math.max(a, b)};
  }

  private static byte[] mutate(Random random, byte[] base, byte[] alphabet) {
    byte[] b = base.clone();
    int edits = 1 + random.nextInt(3);
    for (int e = 0; e < edits; e++) {
      int at = random.nextInt(b.length);
      byte with = alphabet[random.nextInt(alphabet.length)];
      switch (random.nextInt(3)) {
        case 0 -> b[at] = with;
        case 1 -> {
          byte[] longer = new byte[b.length + 1];
          System.arraycopy(b, 0, longer, 0, at);
          longer[at] = with;
          System.arraycopy(b, at, longer, at + 1, b.length - at);
          b = longer;
        }
        default -> {
          if (b.length > 1) {
            byte[] shorter = new byte[b.length - 1];
            System.arraycopy(b, 0, shorter, 0, at);
            System.arraycopy(b, at + 1, shorter, at, b.length - at - 1);
            b = shorter;
          }
        }
      }
    }
    return b;
  }
}
