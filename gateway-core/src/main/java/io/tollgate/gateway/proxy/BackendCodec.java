package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;

/**
 * A backend connection's HTTP/1.1 codec: Netty's {@code HttpClientCodec} (as tollgate used it:
 * no HTTP parsed after a successful CONNECT, no error for a missing answer), but a plain answer
 * head ({@link HeadParser}) and its {@code Content-Length} or chunked body are read by {@link
 * PlainBodies} without the strings and objects Netty's decoder makes per line and field. Every
 * other answer (an event stream delimited by the connection's end, 1xx, 204, 304, to HEAD or
 * CONNECT, malformed, ...) goes whole to Netty's {@link HttpResponseDecoder} with the
 * connection's strict configuration, as before; so does the rest of a chunked body from the
 * first size line or trailer that is not plain ({@link PlainBodies#HAND_OFF}).
 */
final class BackendCodec extends CombinedChannelDuplexHandler<BackendCodec.Decoder, BackendCodec.Encoder> {

  /** What puts Netty's decoder in a chunked body: the head of an answer to a request it never saw. */
  private static final byte[] CHUNKED_HEAD =
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  /** The methods of the requests sent and not yet answered, oldest first. */
  private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(4);
  /** A CONNECT succeeded: what follows is not HTTP, and passes as it is. */
  private boolean tunnel;

  BackendCodec(HttpDecoderConfig config, int maxChunkSize) {
    init(new Decoder(config, maxChunkSize), new Encoder());
  }

  /** How many answer heads were read without Netty's decoder; for tests. */
  long plainHeads() {
    return inboundHandler().body.plainHeads;
  }

  /** How many chunked bodies read here were handed to Netty's decoder part way; for tests. */
  long handedOff() {
    return inboundHandler().body.handedOff;
  }

  final class Encoder extends HttpRequestEncoder {

    /** A forwarded head's table is written without an iterator; any other as Netty writes it. */
    @Override
    protected void encodeHeaders(HttpHeaders headers, ByteBuf buf) {
      if (headers instanceof FlatHeaders fields) {
        fields.encodeTo(buf);
      } else {
        super.encodeHeaders(headers, buf);
      }
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
      if (msg instanceof HttpRequest r) {
        methods.add(r.method());
      }
      super.encode(ctx, msg, out);
    }
  }

  final class Decoder extends HttpResponseDecoder {

    private final PlainBodies body;
    /** Netty's decoder is reading {@link #CHUNKED_HEAD}. */
    private boolean handingOff;

    Decoder(HttpDecoderConfig config, int maxChunkSize) {
      super(config);
      body = new PlainBodies(maxChunkSize);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
      body.useThisThread();
      super.handlerAdded(ctx);
    }

    // Heads Netty's decoder reads (chunked answers, event streams): their names and status line
    // words through the same caches.

    @Override
    protected AsciiString splitHeaderName(byte[] sb, int start, int length) {
      return body.strings.name(sb, start, start + length);
    }

    @Override
    protected String splitFirstWordInitialLine(byte[] sb, int start, int length) {
      return body.strings.value(sb, start, start + length);
    }

    @Override
    protected String splitSecondWordInitialLine(byte[] sb, int start, int length) {
      return body.strings.value(sb, start, start + length);
    }

    @Override
    protected String splitThirdWordInitialLine(byte[] sb, int start, int length) {
      return body.strings.value(sb, start, start + length);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
      if (tunnel) {
        int readable = actualReadableBytes();
        if (readable > 0) {
          out.add(in.readBytes(readable));
        }
        return;
      }
      switch (body.read(in, out)) {
        case PlainBodies.READ -> {
          return;
        }
        case PlainBodies.HAND_OFF -> {
          nettyTakesChunks(ctx, in, out);
          return;
        }
        default -> {
          // a head
        }
      }
      HttpMethod method = methods.peek();
      HeadParser p = body.parser;
      if (method != null && !HttpMethod.HEAD.equals(method) && !HttpMethod.CONNECT.equals(method)
          && body.mayReadHead() && p.response(in)) {
        in.skipBytes(p.headLength);
        methods.poll();
        body.head(new DefaultHttpResponse(p.version, p.status, p.headers), p.contentLength, out);
        return;
      }
      int from = out.size();
      super.decode(ctx, in, out);
      body.nettyDecoded(out, from);
    }

    /**
     * Puts Netty's decoder where it would be after a chunked answer's head (a minimal one, whose
     * message is dropped), then lets it read the rest of the body from the size line at {@code
     * in}'s reader index, exactly as it would have had it read the head itself.
     */
    private void nettyTakesChunks(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
      body.nettyTakesChunks();
      int at = out.size();
      handingOff = true;
      try {
        super.decode(ctx, Unpooled.wrappedBuffer(CHUNKED_HEAD), out);
      } finally {
        handingOff = false;
      }
      if (out.size() != at + 1 || !(out.get(at) instanceof HttpResponse r) || !r.decoderResult().isSuccess()) {
        throw new IllegalStateException("Netty's decoder did not take a chunked head: " + out.subList(at, out.size()));
      }
      out.remove(at);
      super.decode(ctx, in, out);
      body.nettyDecoded(out, at);
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
      super.decodeLast(ctx, in, out);
      body.closed();
    }

    @Override
    protected boolean isContentAlwaysEmpty(HttpMessage msg) {
      if (handingOff) {
        return false; // the minimal head answers no request of its own
      }
      HttpResponse answer = (HttpResponse) msg;
      if (answer.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
        return super.isContentAlwaysEmpty(msg); // not an answer to a request of its own
      }
      HttpMethod method = methods.poll();
      if (HttpMethod.HEAD.equals(method)) {
        return true;
      }
      if (answer.status().code() == 200 && HttpMethod.CONNECT.equals(method)) {
        tunnel = true;
        methods.clear();
        return true;
      }
      return super.isContentAlwaysEmpty(msg);
    }
  }
}
