package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The buyer port's HTTP/1.1 codec: Netty's {@code HttpServerCodec}, but a plain request head
 * ({@link HeadParser}) and its {@code Content-Length} body are read by {@link PlainBodies}
 * without the strings and objects Netty's decoder makes per line and field; every other request
 * (chunked, malformed, oversized, split across reads, HEAD, CONNECT, ...) goes whole to Netty's
 * {@link HttpRequestDecoder}, as before. Answers are encoded by Netty's {@link
 * HttpResponseEncoder}, which learns from here, as from {@code HttpServerCodec}, which request
 * each final answer is for (an interim 100 Continue is for none): no body for an answer to HEAD, no {@code Transfer-Encoding} on a successful
 * CONNECT, and the connection closed after answering a request that had both {@code
 * Transfer-Encoding} and {@code Content-Length}.
 */
final class BuyerCodec extends CombinedChannelDuplexHandler<BuyerCodec.Decoder, BuyerCodec.Encoder> {

  /** The methods of the requests read and not yet answered, oldest first. */
  private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(4);
  private boolean closeAfterAnswer;

  BuyerCodec(HttpDecoderConfig config, int maxChunkSize) {
    init(new Decoder(config, maxChunkSize), new Encoder());
  }

  /** How many request heads were read without Netty's decoder; for tests. */
  long plainHeads() {
    return inboundHandler().body.plainHeads;
  }

  final class Decoder extends HttpRequestDecoder {

    private final PlainBodies body;

    Decoder(HttpDecoderConfig config, int maxChunkSize) {
      super(config);
      body = new PlainBodies(maxChunkSize);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
      body.useThisThread();
      super.handlerAdded(ctx);
    }

    // Heads Netty's decoder reads: their names and targets through the same caches.

    @Override
    protected AsciiString splitHeaderName(byte[] sb, int start, int length) {
      return body.strings.name(sb, start, start + length);
    }

    @Override
    protected String splitSecondWordInitialLine(byte[] sb, int start, int length) {
      return body.strings.value(sb, start, start + length);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
      if (body.read(in, out) != PlainBodies.NOT_MINE) {
        return; // a request's body is never chunked here: no HAND_OFF
      }
      HeadParser p = body.parser;
      if (body.mayReadHead() && p.request(in)) {
        in.skipBytes(p.headLength);
        methods.add(p.method);
        body.head(new DefaultHttpRequest(p.version, p.method, p.target, p.headers), p.contentLength, out);
        return;
      }
      int from = out.size();
      super.decode(ctx, in, out);
      for (int i = from, n = out.size(); i < n; i++) {
        Object o = out.get(i);
        if (o instanceof HttpRequest r) {
          methods.add(r.method());
        }
      }
      body.nettyDecoded(out, from);
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
      super.decodeLast(ctx, in, out);
      body.closed();
    }

    @Override
    protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
      super.handleTransferEncodingChunkedWithContentLength(message);
      closeAfterAnswer = true;
    }
  }

  final class Encoder extends HttpResponseEncoder {

    private HttpMethod answering;

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
      if (closeAfterAnswer && msg instanceof LastHttpContent) {
        closeAfterAnswer = false;
        promise = promise.unvoid().addListener(ChannelFutureListener.CLOSE);
      }
      super.write(ctx, msg, promise);
    }

    @Override
    protected boolean isContentAlwaysEmpty(HttpResponse msg) {
      // Called once per answer head. An interim answer (100 Continue) is not a request's answer:
      // HttpServerCodec's encoder takes a request off its queue for it too, so a request
      // pipelined behind one that expected 100 Continue gave its method to the wrong answer.
      if (msg.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
        return super.isContentAlwaysEmpty(msg);
      }
      answering = methods.poll();
      return HttpMethod.HEAD.equals(answering) || super.isContentAlwaysEmpty(msg);
    }

    @Override
    protected void sanitizeHeadersBeforeEncode(HttpResponse msg, boolean isAlwaysEmpty) {
      if (!isAlwaysEmpty && HttpMethod.CONNECT.equals(answering)
          && msg.status().codeClass() == HttpStatusClass.SUCCESS) {
        msg.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
        return;
      }
      super.sanitizeHeadersBeforeEncode(msg, isAlwaysEmpty);
    }
  }
}
