package io.tollgate.billing;

/**
 * Named points where a test can make the process die at once ({@code Runtime.halt}, like a {@code
 * kill -9}: no shutdown hook, no flush), to prove that what the exporter does is safe to crash in
 * the middle of. Off unless the system property {@code tollgate.crashAt} names the point; reading
 * it costs one property lookup per export step, never per call.
 */
final class CrashPoints {

  /** After a window's records committed to the ledger, before its marks are cleared. */
  static final String AFTER_LEDGER_COMMIT = "export.after-ledger-commit";
  /** After purchases committed to the ledger, before anything else. */
  static final String AFTER_PURCHASES = "export.after-purchases";

  private CrashPoints() {}

  static void reach(String point) {
    if (point.equals(System.getProperty("tollgate.crashAt"))) {
      System.err.println("tollgate: crashing at " + point + " (tollgate.crashAt)");
      System.err.flush();
      Runtime.getRuntime().halt(137);
    }
  }
}
