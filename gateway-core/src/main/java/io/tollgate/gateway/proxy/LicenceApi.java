package io.tollgate.gateway.proxy;

import java.util.concurrent.CompletableFuture;

/**
 * The licence API on the buyer port ({@code /licence/v1/*}): the buyer handler reads the request
 * and writes the answer; everything between (the code's lookup, the seat count, the signature)
 * is the implementation's, off the event loop.
 */
public interface LicenceApi {

  /** The prefix of every licence route. */
  String PREFIX = "/licence/v1/";

  /** None: every licence route is unknown (404). */
  LicenceApi NONE = (method, path, body) -> CompletableFuture.completedFuture(null);

  /**
   * The answer to {@code method path} with {@code body}; completes with null for a route that is
   * not there (the buyer handler answers 404). Never completes on the caller's event loop's time:
   * the work runs elsewhere and the future may complete on any thread.
   */
  CompletableFuture<Answer> answer(String method, String path, byte[] body);

  /**
   * One signed answer.
   *
   * @param body the exact JSON bytes that {@code signature} signs
   * @param signature the {@code X-Tollgate-Signature} value ({@code ed25519 <base64>}), or null
   *     when no product's key could sign (an unknown code, a malformed body)
   * @param retryAfterSeconds for a 429, the {@code retry-after}; else 0
   * @param productId the product the code names, for the access log and metrics; or null
   * @param subscriptionId the subscription the code is the key of, for the access log; or null
   * @param skuId that subscription's SKU; or null
   */
  record Answer(int status, byte[] body, String signature, long retryAfterSeconds, String productId,
      String subscriptionId, String skuId) {

    public Answer(int status, byte[] body, String signature, long retryAfterSeconds, String productId) {
      this(status, body, signature, retryAfterSeconds, productId, null, null);
    }

    /** This answer, about the subscription {@code subscriptionId} of SKU {@code skuId}. */
    public Answer of(String subscriptionId, String skuId) {
      return new Answer(status, body, signature, retryAfterSeconds, productId, subscriptionId, skuId);
    }
  }
}
