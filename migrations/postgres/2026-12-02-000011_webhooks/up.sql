-- Tender platforms: the scheme owner's API clients, their subscriptions to the
-- register's changes, and the deliveries made to them.
--
-- A client's key is shown once; only the SHA-256 of its secret part is kept.
CREATE TABLE api_clients (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

-- A subscription follows the event log with its own cursor: the log is the
-- outbox, written in the event's own transaction; `cursor_seq` is the last
-- event this subscription has a delivery for (or passed over as not its own).
-- One replica at a time holds its lease (claimed with FOR UPDATE SKIP LOCKED).
CREATE TABLE subscriptions (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES api_clients (id),
    url             TEXT NOT NULL,
    everything      BOOLEAN NOT NULL,
    kinds           TEXT NOT NULL,
    expiring_days   INTEGER,
    state           TEXT NOT NULL,
    disabled_reason TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    cursor_seq      BIGINT NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    failing_since   TIMESTAMP,
    lease_owner     TEXT,
    lease_until     TIMESTAMP
);
CREATE INDEX subscriptions_client ON subscriptions (client_id, created_at);
CREATE INDEX subscriptions_due ON subscriptions (next_attempt_at) WHERE state = 'active';

-- The secrets a subscription's messages are signed with: the current one
-- (no end), and after a rotation the previous one until it ends.
CREATE TABLE subscription_secrets (
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    secret          TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    valid_until     TIMESTAMP,
    PRIMARY KEY (subscription_id, secret)
);

-- A subscription's watchlist: the KvK numbers whose certificates it follows.
CREATE TABLE watched (
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    kvk_number      TEXT NOT NULL,
    PRIMARY KEY (subscription_id, kvk_number)
);

-- What was (or is to be) delivered, and how its last attempt went. An event's
-- message is made from the event at each attempt (the same bytes every time:
-- the event never changes); a notice's, made from the register as it was, is
-- kept in `payload`. Delivered rows go after 30 days.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT,
    created_at      TIMESTAMP NOT NULL,
    attempts        INTEGER NOT NULL,
    last_attempt_at TIMESTAMP,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    TIMESTAMP
);
CREATE INDEX deliveries_pending ON deliveries (subscription_id, seq, created_at) WHERE delivered_at IS NULL;
CREATE INDEX deliveries_recent ON deliveries (subscription_id, created_at);
CREATE INDEX deliveries_done ON deliveries (delivered_at) WHERE delivered_at IS NOT NULL;
