-- The audit trail: one row per successful admin write (who, what, on which object, when, and what
-- changed, secrets masked). merchant_id is the object's owner, so a merchant reads its own.
CREATE TABLE audit_events (
  id           VARCHAR(64)  NOT NULL PRIMARY KEY,
  created_at   TIMESTAMP WITH TIME ZONE NOT NULL,
  actor        VARCHAR(200) NOT NULL,
  action       VARCHAR(200) NOT NULL,
  object_id    VARCHAR(64),
  merchant_id  VARCHAR(64),
  changes      VARCHAR      NOT NULL
);
CREATE INDEX audit_events_object ON audit_events (object_id, created_at);
CREATE INDEX audit_events_merchant ON audit_events (merchant_id, created_at);
-- Event ids come from this sequence (aud_ and 20 digits), so events at the same instant list in
-- the order they were kept.
CREATE SEQUENCE audit_seq;
