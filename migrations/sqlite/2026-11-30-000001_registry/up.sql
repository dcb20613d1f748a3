-- The register's tables (SQLite). Times are UTC; dates are calendar dates.

CREATE TABLE certification_bodies (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    accreditation TEXT NOT NULL CHECK (accreditation IN ('active', 'suspended', 'withdrawn')),
    -- Where the CB publishes its key set; NULL when the scheme owner registers
    -- its keys inline.
    jwks_uri      TEXT,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

-- Every public key a CB ever had, current or retired: retired keys stay so that
-- evidence signed with them remains verifiable.
CREATE TABLE cb_keys (
    cb_id      TEXT NOT NULL REFERENCES certification_bodies (id),
    kid        TEXT NOT NULL,
    jwk        TEXT NOT NULL,
    first_seen TIMESTAMP NOT NULL,
    retired_at TIMESTAMP,
    PRIMARY KEY (cb_id, kid)
);

CREATE TABLE companies (
    kvk_number  TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    trade_names TEXT NOT NULL DEFAULT '[]',
    city        TEXT,
    province    TEXT,
    sbi_codes   TEXT NOT NULL DEFAULT '[]',
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX companies_name_idx ON companies (name, kvk_number);

CREATE TABLE certificates (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    number              TEXT NOT NULL UNIQUE,
    scheme              TEXT NOT NULL,
    cb_id               TEXT NOT NULL REFERENCES certification_bodies (id),
    cb_reference        TEXT NOT NULL,
    fingerprint         TEXT NOT NULL,
    main_kvk            TEXT NOT NULL REFERENCES companies (kvk_number),
    replaces_id         BIGINT REFERENCES certificates (id),
    issued_at           TIMESTAMP NOT NULL,
    ends_at             TIMESTAMP NOT NULL,
    closed_at           TIMESTAMP,
    expiry_recorded_for TIMESTAMP,
    UNIQUE (cb_id, cb_reference)
);
CREATE INDEX certificates_main_kvk_idx ON certificates (main_kvk);
CREATE INDEX certificates_ends_at_idx ON certificates (ends_at);

CREATE TABLE periods (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    certificate_id   BIGINT NOT NULL REFERENCES certificates (id),
    level            TEXT NOT NULL,
    pso30plus        BOOLEAN NOT NULL,
    valid_from       DATE NOT NULL,
    valid_until      DATE NOT NULL,
    audit_date       DATE NOT NULL,
    reference_year   INTEGER NOT NULL,
    handbook_version TEXT NOT NULL,
    score_percent    DOUBLE,
    total_fte        DOUBLE,
    CHECK (valid_until > valid_from)
);
CREATE INDEX periods_certificate_idx ON periods (certificate_id, id);

CREATE TABLE coverage (
    certificate_id BIGINT NOT NULL REFERENCES certificates (id),
    kvk_number     TEXT NOT NULL,
    is_main        BOOLEAN NOT NULL,
    PRIMARY KEY (certificate_id, kvk_number)
);
CREATE INDEX coverage_kvk_idx ON coverage (kvk_number, certificate_id);

-- The append-only event log: seq is strictly increasing and never reused.
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    certificate_id BIGINT REFERENCES certificates (id),
    cb_id          TEXT,
    kind           TEXT NOT NULL,
    effective_at   TIMESTAMP NOT NULL,
    recorded_at    TIMESTAMP NOT NULL,
    detail         TEXT NOT NULL,
    evidence       TEXT
);
CREATE INDEX events_certificate_idx ON events (certificate_id, seq);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- Signed-request ids seen per CB, kept until they can no longer be replayed.
CREATE TABLE replay_guard (
    cb_id      TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (cb_id, jti)
);
CREATE INDEX replay_guard_expires_idx ON replay_guard (expires_at);
