package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpHeaders;
import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import io.tollgate.metering.usage.TokenUsage;

/**
 * The buyer port's package-private steps, opened to the JMH benchmarks so that they time the very
 * code {@link BuyerHandler} and {@link Exchange} run, not a copy of it. It lives in the benchmarks
 * module (same package name, on the classpath): the gateway ships nothing extra for them. Each
 * method is one call of the gateway's; decisions are handed out as {@code Object} because their
 * types are package-private.
 */
public final class ProxySteps {

  private ProxySteps() {}

  /** {@link BuyerHandler}: the buyer's key from {@code Authorization: Bearer} or {@code x-api-key}. */
  public static String apiKey(HttpHeaders headers) {
    return Headers.apiKey(headers);
  }

  /** {@link BuyerHandler}: the request body's top-level {@code model}, null if none or not JSON. */
  public static String model(ByteBuf body) {
    return RequestBody.scan(body).model();
  }

  /** {@link BuyerHandler}: quota lease and rpm/tpm for a call with this request body. */
  public static Object admit(CallMetering metering, SubscriptionSnapshot snap, ByteBuf body) {
    return metering.admit(snap, CallMetering.estimateTokens(body));
  }

  /** Whether {@link #admit} admitted the call at once (neither refused nor waiting for a lease refill). */
  public static boolean admitted(Object decision) {
    return decision instanceof CallMetering.Admitted;
  }

  /** The decision once the lease refill it waits for is done (the handler resumes on its loop then). */
  public static Object await(Object decision) {
    return decision instanceof CallMetering.Pending p ? p.decision().toCompletableFuture().join() : decision;
  }

  /** {@link Exchange}: the end of an admitted call settles its reservation with what it used. */
  public static void settle(Object decision, boolean billable, TokenUsage used) {
    ((CallMetering.Admitted) decision).settle(billable, used);
  }

  /** {@link ProxyMetrics} on {@code registry}, as {@link ProxyServices} makes it. */
  public static Object proxyMetrics(io.micrometer.core.instrument.MeterRegistry registry) {
    return new ProxyMetrics(registry);
  }

  /** {@link Exchange#settleAndCount}: the product's request count by status and latency. */
  public static void recordRequest(Object proxyMetrics, String productId, int status, long nanos) {
    ((ProxyMetrics) proxyMetrics).product(productId).record(status, nanos);
  }
}
