package io.tollgate.gateway.licence;

/** A machine of a licence code. */
record MachineKey(String subscriptionId, String fingerprint) {}
