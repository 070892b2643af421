-- The catalog: merchants, products, SKUs with their price history, subscriptions.
-- Runs unchanged on PostgreSQL and on H2 2.x (MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE).
-- Secrets the gateway must present upstream (aksk secret, endpoint headers) are stored as given;
-- keys and tokens that authenticate callers are stored only as SHA-256 hex.
-- Structured fields (endpoints, paths, attributes, models, quantities) are JSON text.
-- Money is NUMERIC(38,18): exact, 20 integer and 18 fractional digits.

CREATE TABLE merchants (
  id          VARCHAR(64)  NOT NULL PRIMARY KEY,
  name        VARCHAR(200) NOT NULL,
  token_hash  CHAR(64)     NOT NULL UNIQUE,
  created_at  TIMESTAMP WITH TIME ZONE NOT NULL
);

CREATE TABLE products (
  id                   VARCHAR(64)  NOT NULL PRIMARY KEY,
  merchant_id          VARCHAR(64)  NOT NULL REFERENCES merchants (id),
  name                 VARCHAR(200) NOT NULL,
  protocol             VARCHAR(16)  NOT NULL,
  endpoints            VARCHAR      NOT NULL,
  auth_type            VARCHAR(16)  NOT NULL,
  auth_access_key      VARCHAR(512),
  auth_secret_key      VARCHAR(512),
  connect_timeout_ms   BIGINT       NOT NULL,
  response_timeout_ms  BIGINT       NOT NULL,
  paths                VARCHAR      NOT NULL,
  health_check_path    VARCHAR(512),
  tokenizer            VARCHAR(32)  NOT NULL,
  created_at           TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX products_merchant ON products (merchant_id);

CREATE TABLE skus (
  id          VARCHAR(64)  NOT NULL PRIMARY KEY,
  product_id  VARCHAR(64)  NOT NULL REFERENCES products (id),
  name        VARCHAR(200) NOT NULL,
  attributes  VARCHAR      NOT NULL,
  models      VARCHAR      NOT NULL,
  mode        VARCHAR(16)  NOT NULL,
  quota       BIGINT,
  period      VARCHAR(8),
  rpm         INTEGER,
  tpm         INTEGER,
  quantities  VARCHAR      NOT NULL,
  created_at  TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX skus_product ON skus (product_id);

-- One row per price change; the row with the greatest effective_from <= t is in force at t.
-- Rows are only ever appended (a change in the same microsecond replaces the latest row).
CREATE TABLE sku_prices (
  sku_id                    VARCHAR(64) NOT NULL REFERENCES skus (id),
  effective_from            TIMESTAMP WITH TIME ZONE NOT NULL,
  currency                  VARCHAR(8)  NOT NULL,
  input_price_per_million   NUMERIC(38, 18),
  output_price_per_million  NUMERIC(38, 18),
  price_per_call            NUMERIC(38, 18),
  price                     NUMERIC(38, 18),
  PRIMARY KEY (sku_id, effective_from)
);

CREATE TABLE subscriptions (
  id            VARCHAR(64)  NOT NULL PRIMARY KEY,
  sku_id        VARCHAR(64)  NOT NULL REFERENCES skus (id),
  buyer_id      VARCHAR(200) NOT NULL,
  buyer_name    VARCHAR(200) NOT NULL,
  status        VARCHAR(16)  NOT NULL,
  test          BOOLEAN      NOT NULL,
  key_hash      CHAR(64)     NOT NULL UNIQUE,
  created_at    TIMESTAMP WITH TIME ZONE NOT NULL,
  period_start  TIMESTAMP WITH TIME ZONE NOT NULL,
  expires_at    TIMESTAMP WITH TIME ZONE,
  quota         BIGINT
);
CREATE INDEX subscriptions_sku ON subscriptions (sku_id);
