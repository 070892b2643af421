-- What a buyer chose at purchase, and the Idempotency-Key answers of purchases and renewals.

-- The SKU's enum attributes chosen (name -> value) and quantity attributes chosen (name -> count),
-- as JSON text like the SKU's own attributes and quantities. '{}' (every row before this migration,
-- and SKUs without attributes) means nothing was chosen: a quantity multiplier of 1.
ALTER TABLE subscriptions ADD COLUMN attributes VARCHAR NOT NULL DEFAULT '{}';
ALTER TABLE subscriptions ADD COLUMN quantities VARCHAR NOT NULL DEFAULT '{}';
-- The subscription list pages by (created_at, id) and filters by buyer.
CREATE INDEX subscriptions_created ON subscriptions (created_at, id);
CREATE INDEX subscriptions_buyer ON subscriptions (buyer_id);

-- One row per Idempotency-Key a caller sent to a route: the request's SHA-256 and, once the first
-- request succeeded, its answer (status and JSON body). A purchase's body holds the API key it
-- issued: that is the answer a retry must get. status NULL: the first request is still running.
-- Rows older than 24 hours are ignored and deleted by the next claim.
CREATE TABLE idempotency_keys (
  caller_id        VARCHAR(64)  NOT NULL,
  route            VARCHAR(100) NOT NULL,
  idempotency_key  VARCHAR(255) NOT NULL,
  request_sha256   CHAR(64)     NOT NULL,
  status           INTEGER,
  response         VARCHAR,
  created_at       TIMESTAMP WITH TIME ZONE NOT NULL,
  PRIMARY KEY (caller_id, route, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
