package io.tollgate.billing;

/**
 * A sink that copies the ledger's records elsewhere after they commit, in ledger order, from a
 * cursor of its own (the JSONL files). A follower that fails is retried at the next export run
 * from where its cursor stands; the ledger keeps everything it has not copied yet.
 */
public interface LedgerFollower {

  /** The sink's name in metrics ({@code tollgate_export_errors_total{sink}}), e.g. {@code jsonl}. */
  String name();

  /** Copies every record committed since the last call; returns how many. Blocking. */
  int catchUp();
}
