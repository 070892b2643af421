package io.tollgate.metering.quota;

import java.util.Objects;
import java.util.concurrent.CompletionStage;

/** The answer of {@link QuotaLeases#tryAdmit}. */
public sealed interface Admission {

  /** Shared: the call's estimated cost was reserved from the local lease. */
  Admitted ADMITTED = new Admitted();
  /** Shared: the period's quota is used up (429 {@code insufficient_quota}). */
  Exhausted EXHAUSTED = new Exhausted();

  /** The estimated cost is reserved; settle it with {@link QuotaLeases#settle} when the call ends. */
  record Admitted() implements Admission {}

  /** No quota left for this period. */
  record Exhausted() implements Admission {}

  /**
   * The local lease is short and a refill is in flight; {@code decision} completes (on a store
   * thread: hop back to the event loop) with {@link Admitted} or {@link Exhausted}.
   */
  record Pending(CompletionStage<Admission> decision) implements Admission {
    public Pending {
      Objects.requireNonNull(decision, "decision");
    }
  }
}
