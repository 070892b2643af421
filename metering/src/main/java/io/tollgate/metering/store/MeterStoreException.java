package io.tollgate.metering.store;

/**
 * A meter store call failed or timed out. After a failed {@link MeterStore#apply} the batches may
 * or may not have been applied; retrying the same batches is always safe.
 */
public class MeterStoreException extends RuntimeException {

  public MeterStoreException(String message, Throwable cause) {
    super(message, cause);
  }
}
