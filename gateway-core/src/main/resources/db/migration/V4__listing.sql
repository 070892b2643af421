-- The listing review: a product is draft -> pending_review -> listed (or back to draft with a
-- review note), and an operator may delist it. Products stored before this migration were on sale
-- already: they become LISTED, first listed when they were created, so their SKUs are frozen as a
-- listed product's are. New products start DRAFT.
ALTER TABLE products ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'LISTED';
ALTER TABLE products ALTER COLUMN status SET DEFAULT 'DRAFT';
ALTER TABLE products ADD COLUMN review_note VARCHAR(1000);
-- Set once, at the first approval; never cleared (a delisting keeps the SKUs frozen).
ALTER TABLE products ADD COLUMN first_listed_at TIMESTAMP WITH TIME ZONE;
UPDATE products SET first_listed_at = created_at;
CREATE INDEX products_status ON products (status, created_at, id);

-- The support contact buyers see; submitting a product for review needs both.
ALTER TABLE merchants ADD COLUMN support_phone VARCHAR(32);
ALTER TABLE merchants ADD COLUMN support_email VARCHAR(254);

-- Support replies a merchant missed, recorded by the operator per product; enough of them within
-- the window delist the product.
CREATE TABLE product_support_failures (
  id          VARCHAR(64)   NOT NULL PRIMARY KEY,
  product_id  VARCHAR(64)   NOT NULL REFERENCES products (id),
  note        VARCHAR(1000) NOT NULL,
  created_at  TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX product_support_failures_product ON product_support_failures (product_id, created_at);
