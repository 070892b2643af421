package io.tollgate.billing;

/**
 * A record as the ledger's followers read it: with its place in export order and the commit that
 * wrote it (the first seq of that commit).
 */
record LedgerEntry(long seq, long commitSeq, UsageRecord record) {}
