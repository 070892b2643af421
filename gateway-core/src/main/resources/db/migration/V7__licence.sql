-- Licences of merchant software (protocol 'licence'): the product's heartbeat interval and
-- Ed25519 key pair, and the machines activated on each subscription (licence code).

-- NULL for every other protocol.
ALTER TABLE products ADD COLUMN licence_heartbeat_ms BIGINT;
-- Base64 of the X.509 SubjectPublicKeyInfo DER: shown to merchants, served to their software.
ALTER TABLE products ADD COLUMN licence_public_key VARCHAR(200);

-- The private half, base64 of its PKCS#8 DER, apart from the products table so that no product
-- read (admin answers, snapshots, logs of them) ever holds it; only the licence signer reads it.
CREATE TABLE licence_keys (
  product_id   VARCHAR(64)  NOT NULL PRIMARY KEY REFERENCES products (id),
  private_key  VARCHAR(200) NOT NULL,
  created_at   TIMESTAMP WITH TIME ZONE NOT NULL
);

-- One row per machine activated on a licence code. last_seen_at is written in batches (a heartbeat
-- costs no write of its own); the freshest times live in memory or Redis and are merged on read.
-- A machine silent for two heartbeat intervals is dead: its seat is free, its row tidied away.
CREATE TABLE licence_machines (
  subscription_id  VARCHAR(64)  NOT NULL REFERENCES subscriptions (id),
  fingerprint      VARCHAR(200) NOT NULL,
  hostname         VARCHAR(255),
  activated_at     TIMESTAMP WITH TIME ZONE NOT NULL,
  last_seen_at     TIMESTAMP WITH TIME ZONE NOT NULL,
  PRIMARY KEY (subscription_id, fingerprint)
);
CREATE INDEX licence_machines_seen ON licence_machines (last_seen_at);
