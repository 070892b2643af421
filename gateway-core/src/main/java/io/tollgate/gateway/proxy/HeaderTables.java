package io.tollgate.gateway.proxy;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;

/**
 * The header tables the buyer port's and the backends' decoders make for each request and answer
 * head: {@link FlatHeaders}, one array of names and values per head, checked with the validators
 * of {@link DefaultHttpHeadersFactory#headersFactory()} (token names; values without CR, LF or
 * other control bytes), so what a head may carry is checked exactly as with Netty's default.
 * Netty's own table (a hash table with an entry object per field, which an earlier version of
 * this factory made with eight buckets rather than sixteen) was about 940 bytes of garbage per
 * proxied call.
 */
final class HeaderTables implements HttpHeadersFactory {

  static final HeaderTables VALIDATING = new HeaderTables();

  private static final DefaultHttpHeadersFactory NETTY = DefaultHttpHeadersFactory.headersFactory();

  private HeaderTables() {}

  @Override
  public HttpHeaders newHeaders() {
    return new FlatHeaders();
  }

  @Override
  public HttpHeaders newEmptyHeaders() {
    return NETTY.newEmptyHeaders();
  }
}
