package io.tollgate.billing;

/**
 * The billing tables' database failed, or refused a write that would change an exported record.
 * Nothing of the failed call was committed; the exporter retries it on its next run.
 */
public final class BillingStoreException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public BillingStoreException(String message, Throwable cause) {
    super(message, cause);
  }

  public BillingStoreException(String message) {
    super(message);
  }
}
