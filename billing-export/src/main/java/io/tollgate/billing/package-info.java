/**
 * Billing export: closes usage windows into immutable records and writes them to sinks (JSONL
 * files, JDBC, the pull API's query side). Built by the billing-export issue; the gateway already
 * emits the {@link io.tollgate.metering.usage.UsageEvent}s it will read.
 */
package io.tollgate.billing;
