package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseDecoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.util.AsciiString;
import java.util.ArrayDeque;
import java.util.List;

/**
 * A backend connection's HTTP/1.1 codec: Netty's {@code HttpClientCodec} (as tollgate used it:
 * no HTTP parsed after a successful CONNECT, no error for a missing answer), but a plain answer
 * head ({@link HeadParser}) and its {@code Content-Length} body are read by {@link
 * FixedLengthBodies} without the strings and objects Netty's decoder makes per line and field.
 * Every other answer (chunked, an event stream, 1xx, 204, 304, to HEAD or CONNECT, malformed,
 * ...) goes whole to Netty's {@link HttpResponseDecoder} with the connection's strict
 * configuration, as before.
 */
final class BackendCodec extends CombinedChannelDuplexHandler<BackendCodec.Decoder, BackendCodec.Encoder> {

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

  final class Encoder extends HttpRequestEncoder {
    @Override
    protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) throws Exception {
      if (msg instanceof HttpRequest r) {
        methods.add(r.method());
      }
      super.encode(ctx, msg, out);
    }
  }

  final class Decoder extends HttpResponseDecoder {

    private final FixedLengthBodies body;

    Decoder(HttpDecoderConfig config, int maxChunkSize) {
      super(config);
      body = new FixedLengthBodies(maxChunkSize);
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
      if (body.read(in, out)) {
        return;
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

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
      super.decodeLast(ctx, in, out);
      body.closed();
    }

    @Override
    protected boolean isContentAlwaysEmpty(HttpMessage msg) {
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
