package io.tollgate.gateway.observe;

import java.util.UUID;

/**
 * What one buyer call was, once it has ended: the single value the buyer port hands to its
 * {@link CallObserver}s (metrics, the access log). Holds no key, token, header value or body: only
 * ids, sizes, times and counts, so any observer may write all of it out.
 *
 * @param requestId the call's {@code x-request-id}
 * @param subscriptionId null when no subscription was found (a missing or unknown key)
 * @param productId null when no product is known
 * @param skuId null when no subscription was found
 * @param protocol the product's protocol, lower case ({@code openai}, {@code anthropic},
 *     {@code custom}); null when no product is known
 * @param model the request's top-level {@code model}, or null (as the buyer sent it: bound it
 *     before using it as a metric label)
 * @param method the HTTP method
 * @param path the request path, without the query string (which may hold a key)
 * @param status the status the buyer received (499 when the buyer left first)
 * @param upstreamStatus the status the upstream answered, 0 when the call never reached it
 * @param durationNanos from the request's first byte to the end of the answer
 * @param ttftNanos from the request's first byte to the first answer body byte the upstream sent,
 *     -1 when none came
 * @param inputTokens the call's input tokens (0 when not counted)
 * @param outputTokens the call's output tokens (0 when not counted)
 * @param estimated whether the tokens were estimated by tollgate rather than reported
 * @param bytesOut answer body bytes written to the buyer
 * @param endpoint the upstream endpoint as {@code host:port}, null when none was picked
 */
public record CallSummary(
    UUID requestId,
    String subscriptionId,
    String productId,
    String skuId,
    String protocol,
    String model,
    String method,
    String path,
    int status,
    int upstreamStatus,
    long durationNanos,
    long ttftNanos,
    long inputTokens,
    long outputTokens,
    boolean estimated,
    long bytesOut,
    String endpoint) {}
