package io.tollgate.gateway.observe;

/**
 * Told of each buyer call once it has ended. Called on the call's event loop (or, for a call
 * whose tokens were estimated, on an estimate worker), so an observer never blocks: it counts, or
 * hands the summary to a thread of its own.
 */
@FunctionalInterface
public interface CallObserver {

  void ended(CallSummary call);

  /**
   * As {@link #ended(CallSummary)}, with what only the buyer port knows at the call's end: whether
   * the call's SKU lists {@code call.model()} by name ({@code Sku.models()}; false for a null model
   * and for a SKU whose empty list means any model). An observer that labels by model (metrics)
   * uses it to bound the label; the buyer port always calls this one. By default, {@link
   * #ended(CallSummary)}.
   */
  default void ended(CallSummary call, boolean modelListed) {
    ended(call);
  }

  /** Tells {@code first} then {@code second}; one failing does not keep the other from being told. */
  static CallObserver both(CallObserver first, CallObserver second) {
    return new CallObserver() {
      @Override
      public void ended(CallSummary call) {
        try {
          first.ended(call);
        } finally {
          second.ended(call);
        }
      }

      @Override
      public void ended(CallSummary call, boolean modelListed) {
        try {
          first.ended(call, modelListed);
        } finally {
          second.ended(call, modelListed);
        }
      }
    };
  }

  CallObserver NONE = call -> {};
}
