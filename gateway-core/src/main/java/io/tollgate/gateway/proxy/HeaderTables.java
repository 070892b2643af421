package io.tollgate.gateway.proxy;

import io.netty.handler.codec.DefaultHeaders.NameValidator;
import io.netty.handler.codec.DefaultHeaders.ValueValidator;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;

/**
 * The header tables the buyer port's and the backends' decoders make for each request and answer
 * head: Netty's own headers with the validators of {@link DefaultHttpHeadersFactory#headersFactory()}
 * (token names; values without CR, LF or other control bytes), so what a head may carry is
 * checked exactly as with Netty's default, but with {@value #BUCKETS} hash buckets rather than
 * sixteen. A table never grows its buckets: a request as forwarded (a client's few headers and
 * the eight or so tollgate sets) and an answer with the subscription's rate limits hold ten to
 * twenty fields, two or three per bucket, compared by their hashes first; the sixteen-slot array
 * of each head was 32 bytes more garbage per message.
 */
final class HeaderTables implements HttpHeadersFactory {

  static final int BUCKETS = 8;

  static final HeaderTables VALIDATING = new HeaderTables();

  private static final DefaultHttpHeadersFactory NETTY = DefaultHttpHeadersFactory.headersFactory();

  private HeaderTables() {}

  @Override
  public HttpHeaders newHeaders() {
    return new Table(NETTY.getNameValidator(), NETTY.getValueValidator());
  }

  @Override
  public HttpHeaders newEmptyHeaders() {
    return NETTY.newEmptyHeaders();
  }

  /** Netty's headers with fewer buckets (the constructor that takes the size is protected). */
  private static final class Table extends DefaultHttpHeaders {
    Table(NameValidator<CharSequence> names, ValueValidator<CharSequence> values) {
      super(names, values, BUCKETS);
    }
  }
}
