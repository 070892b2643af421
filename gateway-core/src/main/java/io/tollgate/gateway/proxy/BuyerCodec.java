package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.EncoderException;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
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
import io.netty.util.CharsetUtil;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.PromiseCombiner;
import io.netty.util.internal.StringUtil;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The buyer port's HTTP/1.1 codec: Netty's {@code HttpServerCodec}, but a plain request head
 * ({@link HeadParser}) and its {@code Content-Length} body are read by {@link PlainBodies}
 * without the strings and objects Netty's decoder makes per line and field; every other request
 * (chunked, malformed, oversized, split across reads, HEAD, CONNECT, ...) goes whole to Netty's
 * {@link HttpRequestDecoder}, as before. Answers are encoded by Netty's {@link
 * HttpResponseEncoder}, which learns from here, as from {@code HttpServerCodec}, which request
 * each final answer is for (an interim 100 Continue is for none): no body for an answer to HEAD,
 * no {@code Transfer-Encoding} on a successful CONNECT, and the connection closed after answering
 * a request that had both {@code Transfer-Encoding} and {@code Content-Length}. A chunked answer
 * with a body (an event stream) is encoded here instead, to the same bytes, with its chunk
 * framing from the allocator's pool.
 */
final class BuyerCodec extends CombinedChannelDuplexHandler<BuyerCodec.Decoder, BuyerCodec.Encoder> {

  /** The methods of the requests read and not yet answered, oldest first. */
  private final ArrayDeque<HttpMethod> methods = new ArrayDeque<>(4);
  private boolean closeAfterAnswer;

  BuyerCodec(HttpDecoderConfig config, int maxChunkSize) {
    init(new Decoder(config, maxChunkSize), new Encoder());
  }

  /** How many chunked answers were encoded here rather than by Netty's encoder; for tests. */
  long chunkedHeads() {
    return outboundHandler().chunkedHeads;
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

    private static final byte[] HEX = "0123456789abcdef".getBytes(CharsetUtil.US_ASCII);

    private HttpMethod answering;
    /** Netty's encoder has a message open: a head passed to it, its last content not yet. */
    private boolean nettyOpen;
    /** A chunked answer whose head was encoded here is open: its content is framed here too. */
    private boolean chunking;
    /** What a head is expected to take, from the heads encoded here (as Netty's encoder guesses). */
    private int headBytesGuess = 256;
    long chunkedHeads;

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
      if (closeAfterAnswer && msg instanceof LastHttpContent) {
        closeAfterAnswer = false;
        promise = promise.unvoid().addListener(ChannelFutureListener.CLOSE);
      }
      if (chunking) {
        writeChunk(ctx, msg, promise);
        return;
      }
      if (!nettyOpen && msg instanceof HttpResponse r && !(msg instanceof HttpContent) && chunkedHere(r)) {
        writeChunkedHead(ctx, r, promise);
        return;
      }
      if (msg instanceof HttpMessage) {
        nettyOpen = true;
      }
      if (msg instanceof LastHttpContent) {
        nettyOpen = false;
      }
      super.write(ctx, msg, promise);
    }

    /**
     * Whether a head starts a chunked answer encoded here rather than by Netty's encoder: a final
     * answer with a body (not to HEAD or CONNECT; not 204, 205 or 304) and chunked as Netty's
     * encoder judges it ({@link HttpUtil#isTransferEncodingChunked}). Such an answer is encoded
     * byte for byte as Netty's encoder encodes it, but its terminal chunk and the CRLF after each
     * chunk come from the allocator's pool rather than as a new view of a shared buffer each
     * (Netty's, ~50 bytes of garbage per streamed call).
     */
    private boolean chunkedHere(HttpResponse r) {
      HttpResponseStatus status = r.status();
      int code = status.code();
      HttpMethod next = methods.peek();
      return status.codeClass() != HttpStatusClass.INFORMATIONAL && code != 204 && code != 205 && code != 304
          && !HttpMethod.HEAD.equals(next) && !HttpMethod.CONNECT.equals(next) && HttpUtil.isTransferEncodingChunked(r);
    }

    private void writeChunkedHead(ChannelHandlerContext ctx, HttpResponse r, ChannelPromise promise) throws Exception {
      answering = methods.poll();
      sanitizeHeadersBeforeEncode(r, false);
      ByteBuf buf = ctx.alloc().buffer(headBytesGuess);
      try {
        encodeInitialLine(buf, r);
        encodeHeaders(r.headers(), buf);
        buf.writeByte('\r').writeByte('\n');
      } catch (Exception | Error e) {
        buf.release();
        throw e;
      }
      headBytesGuess = (int) (0.2 * buf.readableBytes() + 0.8 * headBytesGuess);
      chunking = true;
      chunkedHeads++;
      ctx.write(buf, promise);
    }

    /**
     * Content of a chunked answer encoded here, as Netty's encoder frames it: a chunk of each
     * non-empty content (size line, data, CRLF); after the last, the terminal chunk and its
     * trailers. An empty content that is not the last passes as it is.
     */
    private void writeChunk(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
      ByteBuf content;
      HttpHeaders trailers = null;
      if (msg instanceof HttpContent c && !(msg instanceof HttpMessage)) {
        content = c.content();
        if (msg instanceof LastHttpContent last) {
          trailers = last.trailingHeaders();
        }
      } else if (msg instanceof ByteBuf b) {
        content = b;
      } else {
        ReferenceCountUtil.release(msg);
        throw new EncoderException(new IllegalStateException(
            "unexpected message type: " + StringUtil.simpleClassName(msg) + " in a chunked answer"));
      }
      int length = content.readableBytes();
      if (length == 0 && trailers == null) {
        ctx.write(content, promise);
        return;
      }
      if (trailers != null) {
        chunking = false;
      }
      ByteBuf after = ctx.alloc().buffer(trailers == null || trailers.isEmpty() ? 7 : 64);
      try {
        if (length > 0) {
          after.writeByte('\r').writeByte('\n');
        }
        if (trailers != null) {
          after.writeByte('0').writeByte('\r').writeByte('\n');
          encodeHeaders(trailers, after);
          after.writeByte('\r').writeByte('\n');
        }
      } catch (Exception | Error e) {
        after.release();
        content.release();
        throw e;
      }
      if (length == 0) {
        content.release();
        ctx.write(after, promise);
        return;
      }
      ByteBuf sizeLine = ctx.alloc().buffer(10);
      for (int shift = (31 - Integer.numberOfLeadingZeros(length)) & ~3; shift >= 0; shift -= 4) {
        sizeLine.writeByte(HEX[(length >>> shift) & 0xf]);
      }
      sizeLine.writeByte('\r').writeByte('\n');
      if (promise.isVoid()) {
        ctx.write(sizeLine, promise);
        ctx.write(content, promise);
        ctx.write(after, promise);
      } else {
        PromiseCombiner all = new PromiseCombiner(ctx.executor());
        all.add(ctx.write(sizeLine));
        all.add(ctx.write(content));
        all.add(ctx.write(after));
        all.finish(promise);
      }
    }

    /** A decoded head's table is written without an iterator; any other as Netty writes it. */
    @Override
    protected void encodeHeaders(HttpHeaders headers, ByteBuf buf) {
      if (headers instanceof FlatHeaders fields) {
        fields.encodeTo(buf);
      } else {
        super.encodeHeaders(headers, buf);
      }
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
