package io.tollgate.gateway.proxy;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;

/**
 * The trailer headers the buyer port's and the backends' decoders give each message's last
 * content: Netty's validating trailers, made with two buckets rather than sixteen. The decoders
 * make a trailers object for every request and every answer, and almost none carries a trailer
 * field; the few that do still get every field, in a smaller table.
 */
final class Trailers implements HttpHeadersFactory {

  static final Trailers SMALL = new Trailers();

  private static final DefaultHttpHeadersFactory VALIDATING = DefaultHttpHeadersFactory.trailersFactory();

  private Trailers() {}

  @Override
  public HttpHeaders newHeaders() {
    return VALIDATING.newEmptyHeaders();
  }

  @Override
  public HttpHeaders newEmptyHeaders() {
    return VALIDATING.newEmptyHeaders();
  }
}
