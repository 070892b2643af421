package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderResultProvider;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The decoders' header and trailer tables ({@link HeaderTables}, {@link Trailers}) hold and refuse
 * exactly what Netty's default tables do: the same heads decode to the same fields, and fail in
 * the same places (a name that is no token, a control byte in a value, a framing field in a
 * trailer).
 */
class HeaderTablesTest {

  static final List<String> REQUESTS = List.of(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer k\r\nContent-Type: application/json\r\n"
          + "Content-Length: 2\r\n\r\n{}",
      "POST / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\nContent-Length: 0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nX-Nul: a\u0000b\r\nContent-Length: 0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nX-Vt: a\u000bb\r\nContent-Length: 0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: t\r\nX-U: u\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nBad Name: t\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: a\u0000b\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nContent-Length: 9\r\n"
          + "Trailer: X\r\nX-T: t\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");

  static final List<String> ANSWERS = List.of(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-A: 1\r\nX-B: 2\r\nX-C: 3\r\nX-D: 4\r\nX-E: 5\r\n"
          + "X-F: 6\r\nX-G: 7\r\nX-H: 8\r\nX-I: 9\r\nX-J: 10\r\nContent-Length: 2\r\n\r\n{}",
      "HTTP/1.1 200 OK\r\nX-Nul: a\u0000b\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad/Name: a\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Checksum: c\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Checksum: a\u0000b\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}");

  @Test
  void requestsDecode_toTheSameFieldsAndFailures_asWithNettysTables() {
    for (String request : REQUESTS) {
      assertThat(decode(() -> new HttpRequestDecoder(ours()), request)).as(request)
          .isEqualTo(decode(() -> new HttpRequestDecoder(netty()), request));
    }
    assertThat(decode(() -> new HttpRequestDecoder(ours()), REQUESTS.get(1))).as("the check is not vacuous")
        .anyMatch(m -> m.startsWith("failed"));
  }

  @Test
  void answersDecode_toTheSameFieldsAndFailures_asWithNettysTables() {
    for (String answer : ANSWERS) {
      assertThat(decode(() -> new HttpResponseDecoder(ours()), answer)).as(answer)
          .isEqualTo(decode(() -> new HttpResponseDecoder(netty()), answer));
    }
    assertThat(decode(() -> new HttpResponseDecoder(ours()), ANSWERS.get(3))).as("the trailer is read")
        .contains("trailers [X-Checksum=c]");
  }

  @Test
  void aHeadWithMoreFieldsThanBuckets_keepsEveryField() {
    HttpHeaders h = HeaderTables.VALIDATING.newHeaders();
    for (int i = 0; i < 40; i++) {
      h.add("x-field-" + i, "v" + i);
    }
    h.add("x-field-7", "again");
    h.remove("x-field-3");
    h.set("x-field-9", "set");
    assertThat(h.size()).isEqualTo(40);
    assertThat(h.getAll("x-field-7")).containsExactly("v7", "again");
    assertThat(h.get("x-field-3")).isNull();
    assertThat(h.get("X-FIELD-9")).isEqualTo("set");
    for (int i = 10; i < 40; i++) {
      assertThat(h.get("x-field-" + i)).isEqualTo("v" + i);
    }
  }

  @Test
  void headTables_refuseWhatNettysRefuse() {
    for (HttpHeaders h : List.of(HeaderTables.VALIDATING.newHeaders(), HeaderTables.VALIDATING.newEmptyHeaders())) {
      assertThatThrownBy(() -> h.add("x-a", "a\r\nInjected: yes")).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> h.set("x-a", "a\nb")).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> h.add("bad name", "a")).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> h.add("x-a\r\n", "a")).isInstanceOf(IllegalArgumentException.class);
      assertThat(h.isEmpty()).isTrue();
    }
  }

  @Test
  void trailers_readAsEmptyUntilWritten_thenHoldEveryField_andRefuseWhatNettysTrailersRefuse() {
    HttpHeaders t = Trailers.SMALL.newHeaders();
    assertThat(t.isEmpty()).isTrue();
    assertThat(t.size()).isZero();
    assertThat(t.get("x-a")).isNull();
    assertThat(t.contains("x-a")).isFalse();
    assertThat(t.iteratorCharSequence().hasNext()).isFalse();
    assertThat(t.getAll("x-a")).isEmpty();
    t.remove("x-a");
    t.clear();

    assertThatThrownBy(() -> t.add("content-length", "1")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> t.add("Transfer-Encoding", "chunked")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> t.add("trailer", "x")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> t.add("x-a", "a\r\nInjected: yes")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> t.add("bad name", "a")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> t.add(t)).isInstanceOf(IllegalArgumentException.class);
    assertThat(t.isEmpty()).as("nothing refused was kept").isTrue();

    t.add("x-a", "1").add("X-B", "2").add("x-a", "3");
    HttpHeaders copy = t.copy();
    t.remove("x-b");
    assertThat(t.getAll("X-A")).containsExactly("1", "3");
    assertThat(t.contains("x-a", "3", /* ignoreCase= */ false)).isTrue();
    assertThat(t.size()).isEqualTo(2);
    assertThat(copy.size()).as("a copy is its own").isEqualTo(3);
    assertThat(copy.get("x-b")).isEqualTo("2");
    List<String> walked = new ArrayList<>();
    t.iteratorCharSequence().forEachRemaining(e -> walked.add(e.getKey() + "=" + e.getValue()));
    assertThat(walked).containsExactly("x-a=1", "x-a=3");
  }

  private static HttpDecoderConfig ours() {
    return new HttpDecoderConfig().setHeadersFactory(HeaderTables.VALIDATING).setTrailersFactory(Trailers.SMALL);
  }

  private static HttpDecoderConfig netty() {
    return new HttpDecoderConfig().setHeadersFactory(DefaultHttpHeadersFactory.headersFactory())
        .setTrailersFactory(DefaultHttpHeadersFactory.trailersFactory());
  }

  /** What a decoder makes of {@code wire}: each message's kind, result and fields, as text. */
  private static List<String> decode(Supplier<ChannelHandler> decoder, String wire) {
    EmbeddedChannel ch = new EmbeddedChannel(decoder.get());
    List<String> seen = new ArrayList<>();
    try {
      ch.writeInbound(Unpooled.copiedBuffer(wire, StandardCharsets.ISO_8859_1));
      ch.finish();
      Object msg;
      while ((msg = ch.readInbound()) != null) {
        try {
          StringBuilder s = new StringBuilder();
          if (msg instanceof DecoderResultProvider p && p.decoderResult().isFailure()) {
            s.append("failed ").append(p.decoderResult().cause().getClass().getSimpleName()).append(' ');
          }
          if (msg instanceof HttpMessage m) {
            s.append("head ").append(fields(m.headers()));
          }
          if (msg instanceof LastHttpContent last) {
            s.append("trailers ").append(fields(last.trailingHeaders()));
          }
          seen.add(s.toString());
        } finally {
          ReferenceCountUtil.release(msg);
        }
      }
    } finally {
      ch.finishAndReleaseAll();
    }
    return seen;
  }

  private static List<String> fields(HttpHeaders h) {
    List<String> out = new ArrayList<>();
    h.iteratorCharSequence().forEachRemaining(e -> out.add(e.getKey() + "=" + e.getValue()));
    return out;
  }
}
