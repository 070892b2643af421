package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The relay of chunked bodies in the upstream's own framing, on an embedded channel with Netty's
 * client codec behind it, as on a backend connection: whatever way the upstream's bytes are cut
 * into reads, the buyer gets exactly the upstream's body up to its terminal chunk, the usage scan
 * sees exactly the chunk data, the codec ends the response, and the connection serves the next
 * response; a broken framing stops everything.
 */
class ChunkedRelayTest {

  static final String HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
  static final String[] EVENTS = {"data: {\"choices\":[\"a\"]}\n\n", "data: {\"choices\":[\"bc\"]}\n\n", "data: [DONE]\n\n"};
  static final String BODY = Integer.toHexString(EVENTS[0].length()) + "\r\n" + EVENTS[0] + "\r\n"
      + Integer.toHexString(EVENTS[1].length()).toUpperCase() + ";name=value\r\n" + EVENTS[1] + "\r\n"
      + "00" + Integer.toHexString(EVENTS[2].length()) + "\r\n" + EVENTS[2] + "\r\n";
  static final String DATA = String.join("", EVENTS);
  static final String TERMINAL = "0\r\nx-trailer: t\r\n\r\n";

  /** What the exchange would have received. */
  static final class Recorder extends ChannelInboundHandlerAdapter implements ChunkedRelay.Sink {
    final ChunkedRelay relay;
    final boolean relayBody;
    boolean wholeChunks;
    /** Whole-chunk mode: chunks whose data contains this are replaced by {@link #replacement}. */
    String replaceWhenContains;
    String replacement = "";
    final List<String> offered = new ArrayList<>();
    final ByteArrayOutputStream relayed = new ByteArrayOutputStream();
    final ByteArrayOutputStream scanned = new ByteArrayOutputStream();
    final ByteArrayOutputStream decoded = new ByteArrayOutputStream();
    final List<HttpResponse> heads = new ArrayList<>();
    int lasts;
    String trailer;
    Throwable broken;

    Recorder(ChunkedRelay relay, boolean relayBody) {
      this.relay = relay;
      this.relayBody = relayBody;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof HttpResponse head) {
          heads.add(head);
          if (relayBody) {
            relay.relay(this, wholeChunks);
          }
        }
        if (msg instanceof HttpContent content) {
          byte[] b = new byte[content.content().readableBytes()];
          content.content().getBytes(content.content().readerIndex(), b);
          decoded.writeBytes(b);
          if (msg instanceof LastHttpContent last) {
            lasts++;
            trailer = last.trailingHeaders().get("x-trailer");
          }
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    @Override
    public void scanRelayed(ByteBuf in, int index, int length) {
      byte[] b = new byte[length];
      in.getBytes(index, b);
      scanned.writeBytes(b);
    }

    @Override
    public ByteBuf replaceChunk(ByteBuf in, int index, int length) {
      String data = in.toString(index, length, StandardCharsets.ISO_8859_1);
      offered.add(data);
      scanned.writeBytes(data.getBytes(StandardCharsets.ISO_8859_1));
      if (replaceWhenContains != null && data.contains(replaceWhenContains)) {
        return Unpooled.copiedBuffer(replacement, StandardCharsets.ISO_8859_1);
      }
      return null;
    }

    @Override
    public void onRelayed(ByteBuf bytes) {
      byte[] b = new byte[bytes.readableBytes()];
      bytes.readBytes(b);
      bytes.release();
      relayed.writeBytes(b);
    }

    @Override
    public void onBrokenResponse(Throwable cause) {
      broken = cause;
    }
  }

  static Recorder channel(boolean relayBody, List<EmbeddedChannel> out) {
    ChunkedRelay relay = new ChunkedRelay();
    Recorder recorder = new Recorder(relay, relayBody);
    EmbeddedChannel ch = new EmbeddedChannel(relay, new HttpClientCodec(), recorder);
    // the client codec pairs each response with a request it sent
    ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v1/chat/completions"));
    ReferenceCountUtil.release(ch.readOutbound());
    out.add(ch);
    return recorder;
  }

  static void feed(EmbeddedChannel ch, byte[] all, int... cuts) {
    int from = 0;
    for (int cut : cuts) {
      ch.writeInbound(Unpooled.wrappedBuffer(all, from, cut - from));
      from = cut;
    }
    ch.writeInbound(Unpooled.wrappedBuffer(all, from, all.length - from));
  }

  static String text(ByteArrayOutputStream b) {
    return b.toString(StandardCharsets.ISO_8859_1);
  }

  @Test
  void everyCutIntoTwoReads_relaysTheBodyUpToItsTerminalChunk_andScansExactlyTheData() {
    byte[] all = (HEAD + BODY + TERMINAL).getBytes(StandardCharsets.ISO_8859_1);
    for (int cut = 1; cut < all.length; cut++) {
      List<EmbeddedChannel> chs = new ArrayList<>();
      Recorder r = channel(true, chs);

      feed(chs.get(0), all, cut);

      assertThat(r.broken).as("cut at %d", cut).isNull();
      assertThat(r.heads).as("cut at %d", cut).hasSize(1);
      assertThat(text(r.relayed)).as("relayed, cut at %d", cut).isEqualTo(BODY);
      assertThat(text(r.scanned)).as("scanned, cut at %d", cut).isEqualTo(DATA);
      assertThat(r.lasts).as("the codec ends the response, cut at %d", cut).isEqualTo(1);
      assertThat(r.trailer).as("trailers still reach the codec").isEqualTo("t");
      assertThat(chs.get(0).finishAndReleaseAll()).isFalse();
    }
  }

  @Test
  void everyCutIntoThreeReads_relaysTheSameBytes() {
    byte[] all = (HEAD + BODY + TERMINAL).getBytes(StandardCharsets.ISO_8859_1);
    for (int a = HEAD.length() - 3; a < all.length - 1; a++) {
      for (int b = a + 1; b < all.length; b++) {
        List<EmbeddedChannel> chs = new ArrayList<>();
        Recorder r = channel(true, chs);

        feed(chs.get(0), all, a, b);

        assertThat(text(r.relayed)).as("cuts %d, %d", a, b).isEqualTo(BODY);
        assertThat(text(r.scanned)).as("cuts %d, %d", a, b).isEqualTo(DATA);
        assertThat(r.lasts).as("cuts %d, %d", a, b).isEqualTo(1);
        chs.get(0).finishAndReleaseAll();
      }
    }
  }

  static Recorder wholeChunks(List<EmbeddedChannel> out, String replaceWhenContains, String replacement) {
    ChunkedRelay relay = new ChunkedRelay();
    Recorder recorder = new Recorder(relay, true);
    recorder.wholeChunks = true;
    recorder.replaceWhenContains = replaceWhenContains;
    recorder.replacement = replacement;
    EmbeddedChannel ch = new EmbeddedChannel(relay, new HttpClientCodec(), recorder);
    ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v1/chat/completions"));
    ReferenceCountUtil.release(ch.readOutbound());
    out.add(ch);
    return recorder;
  }

  @Test
  void wholeChunks_atEveryCut_offerEachChunkOnce_andAReplacedChunkIsFramedAnew() {
    byte[] all = (HEAD + BODY + TERMINAL).getBytes(StandardCharsets.ISO_8859_1);
    String second = BODY.substring(BODY.indexOf('\n', BODY.indexOf(EVENTS[0]) + EVENTS[0].length()) + 1,
        BODY.indexOf(EVENTS[2]) - ("00" + Integer.toHexString(EVENTS[2].length()) + "\r\n").length());
    for (String replacement : new String[] {"", "data: kept\n\n"}) {
      String expected = BODY.replace(second, replacement.isEmpty() ? ""
          : Integer.toHexString(replacement.length()) + "\r\n" + replacement + "\r\n");
      for (int cut = 1; cut < all.length; cut++) {
        List<EmbeddedChannel> chs = new ArrayList<>();
        Recorder r = wholeChunks(chs, "bc", replacement);

        feed(chs.get(0), all, cut);

        assertThat(r.broken).isNull();
        assertThat(r.offered).as("cut at %d", cut).containsExactly(EVENTS);
        assertThat(text(r.relayed)).as("relayed, cut at %d", cut).isEqualTo(expected);
        assertThat(r.lasts).isEqualTo(1);
        chs.get(0).finishAndReleaseAll();
      }
    }
  }

  @Test
  void wholeChunks_aChunkTooLargeToHold_isLeftToTheCodec_fromItsStart() {
    String big = "data: " + "x".repeat(2 * ChunkedRelay.MAX_HELD_CHUNK) + "\n\n";
    String body = Integer.toHexString(EVENTS[0].length()) + "\r\n" + EVENTS[0] + "\r\n"
        + Integer.toHexString(big.length()) + "\r\n" + big + "\r\n"
        + Integer.toHexString(EVENTS[2].length()) + "\r\n" + EVENTS[2] + "\r\n";
    byte[] all = (HEAD + body + TERMINAL).getBytes(StandardCharsets.ISO_8859_1);
    List<EmbeddedChannel> chs = new ArrayList<>();
    Recorder r = wholeChunks(chs, null, null);

    int cut = HEAD.length() + body.indexOf(big) + 100;
    feed(chs.get(0), all, cut, cut + ChunkedRelay.MAX_HELD_CHUNK / 2, cut + ChunkedRelay.MAX_HELD_CHUNK + 100);

    assertThat(r.offered).containsExactly(EVENTS[0]);
    assertThat(text(r.relayed)).isEqualTo(body.substring(0, body.indexOf(Integer.toHexString(big.length()) + "\r\n")));
    assertThat(text(r.decoded)).as("the codec decodes the rest").isEqualTo(big + EVENTS[2]);
    assertThat(r.lasts).isEqualTo(1);
    chs.get(0).finishAndReleaseAll();
  }

  @Test
  void aBodyNotRelayed_isDecodedByTheCodecAsBefore() {
    byte[] all = (HEAD + BODY + TERMINAL).getBytes(StandardCharsets.ISO_8859_1);
    for (int cut = 1; cut < all.length; cut += 7) {
      List<EmbeddedChannel> chs = new ArrayList<>();
      Recorder r = channel(false, chs);

      feed(chs.get(0), all, cut);

      assertThat(text(r.relayed)).isEmpty();
      assertThat(text(r.decoded)).as("cut at %d", cut).isEqualTo(DATA);
      assertThat(r.lasts).isEqualTo(1);
      chs.get(0).finishAndReleaseAll();
    }
  }

  @Test
  void theConnectionsNextResponse_afterAReset_isReadFromItsHead() {
    List<EmbeddedChannel> chs = new ArrayList<>();
    Recorder r = channel(true, chs);
    EmbeddedChannel ch = chs.get(0);
    feed(ch, (HEAD + BODY + TERMINAL).getBytes(StandardCharsets.ISO_8859_1));

    r.relay.reset();
    ch.writeOutbound(new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/v1/chat/completions"));
    ReferenceCountUtil.release(ch.readOutbound());
    feed(ch, (HEAD + "5\r\nhello\r\n0\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));

    assertThat(r.heads).hasSize(2);
    assertThat(text(r.relayed)).isEqualTo(BODY + "5\r\nhello\r\n");
    assertThat(r.lasts).isEqualTo(2);
    ch.finishAndReleaseAll();
  }

  @Test
  void brokenFraming_isReported_andNothingMoreIsRelayedOrDecoded() {
    String[] broken = {
        "zz\r\nmore\r\n0\r\n\r\n", // not hex
        "5\r\nhello!!\r\n0\r\n\r\n", // data longer than its size
        "5\nhello\r\n0\r\n\r\n", // bare LF after the size
        "\r\n5\r\nhello\r\n0\r\n\r\n", // empty size line
        "1" + "0".repeat(20) + "\r\n", // a size past 2^31
        "5;" + "x".repeat(ChunkedRelay.MAX_SIZE_LINE) + "\r\nhello\r\n", // endless extension
    };
    for (String body : broken) {
      List<EmbeddedChannel> chs = new ArrayList<>();
      Recorder r = channel(true, chs);

      feed(chs.get(0), (HEAD + "3\r\nabc\r\n" + body).getBytes(StandardCharsets.ISO_8859_1));

      assertThat(r.broken).as(body).isNotNull();
      assertThat(text(r.relayed)).as("only what came before the break went to the buyer").isIn("", "3\r\nabc\r\n");
      assertThat(r.lasts).as("no clean end: %s", body).isZero();
      chs.get(0).writeInbound(Unpooled.copiedBuffer("5\r\nhello\r\n0\r\n\r\n", StandardCharsets.ISO_8859_1));
      assertThat(r.lasts).as("nothing after the break is read: %s", body).isZero();
      chs.get(0).finishAndReleaseAll();
    }
  }
}
