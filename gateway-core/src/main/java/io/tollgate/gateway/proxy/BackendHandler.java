package io.tollgate.gateway.proxy;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.DecoderResultProvider;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.util.ReferenceCountUtil;

/**
 * The last handler of a pooled backend channel: hands the upstream's response to the exchange
 * that currently holds the channel. Confined to the channel's event loop, which is the buyer's.
 *
 * <p>An answer that breaks HTTP/1.1 framing reaches this handler as a message whose {@link
 * DecoderResult} failed: Netty's response decoder marks a head with both {@code Content-Length}
 * and {@code Transfer-Encoding}, an unreadable length or status line, or a connection closed
 * inside the head; and a {@code LastHttpContent} for a malformed chunk. That last one looks like
 * a clean end of the body, so the check comes before anything reads the message as an answer.
 */
final class BackendHandler extends ChannelInboundHandlerAdapter {

  private final ChunkedRelay relay;
  private Exchange exchange;

  BackendHandler(ChunkedRelay relay) {
    this.relay = relay;
  }

  /** The connection's relay of chunked bodies (see {@link ChunkedRelay}). */
  ChunkedRelay relay() {
    return relay;
  }

  void attach(Exchange exchange) {
    this.exchange = exchange;
    relay.reset();
  }

  void detach() {
    this.exchange = null;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    Exchange ex = exchange;
    if (ex == null) {
      // Bytes nobody asked for on an idle pooled connection: the connection is unusable.
      ReferenceCountUtil.release(msg);
      ctx.close();
      return;
    }
    if (msg instanceof DecoderResultProvider p && p.decoderResult().isFailure()) {
      // The decoder now discards everything until the connection closes: the exchange ends it.
      Throwable cause = p.decoderResult().cause();
      ReferenceCountUtil.release(msg);
      ex.onBrokenResponse(cause);
      return;
    }
    if (msg instanceof HttpResponse head) {
      ex.onHead(head);
    }
    if (msg instanceof HttpContent content) {
      ex.onContent(content);
    } else if (!(msg instanceof HttpResponse)) {
      ReferenceCountUtil.release(msg);
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    Exchange ex = exchange;
    if (ex != null) {
      ex.onReadComplete();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    Exchange ex = exchange;
    exchange = null;
    if (ex != null) {
      ex.onBackendClosed();
    }
  }

  /**
   * A failed read, or a failed write of a request (written with the void promise, whose failure
   * comes here): the exchange is told at once, then the connection is closed.
   */
  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    Exchange ex = exchange;
    if (ex != null) {
      ex.onBackendFailed(cause);
    }
    ctx.close();
  }
}
