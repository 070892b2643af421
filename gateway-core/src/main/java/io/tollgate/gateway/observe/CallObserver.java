package io.tollgate.gateway.observe;

/**
 * Told of each buyer call once it has ended. Called on the call's event loop (or, for a call
 * whose tokens were estimated, on an estimate worker), so an observer never blocks: it counts, or
 * hands the summary to a thread of its own.
 */
@FunctionalInterface
public interface CallObserver {

  void ended(CallSummary call);

  /** Tells {@code first} then {@code second}; one failing does not keep the other from being told. */
  static CallObserver both(CallObserver first, CallObserver second) {
    return call -> {
      try {
        first.ended(call);
      } finally {
        second.ended(call);
      }
    };
  }

  CallObserver NONE = call -> {};
}
