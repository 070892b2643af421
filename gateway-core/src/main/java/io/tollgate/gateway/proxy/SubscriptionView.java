package io.tollgate.gateway.proxy;

import io.tollgate.gateway.catalog.SubscriptionSnapshot;
import java.util.concurrent.CompletionStage;

/**
 * Renders {@code GET /v1/subscription}: the caller's subscription with its usage and what is
 * left. May complete on any thread; the buyer port resumes on its own event loop.
 */
@FunctionalInterface
public interface SubscriptionView {

  /** The JSON body. */
  CompletionStage<byte[]> render(SubscriptionSnapshot snapshot);
}
