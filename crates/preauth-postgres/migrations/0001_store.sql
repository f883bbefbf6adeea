-- preauth's shared store, version 1. Applied once, in a transaction, under an advisory
-- lock (see src/schema.rs); never edited after release: later changes are new files.

-- Connections: the connection string sealed with the store's data key under the
-- connection's name. `folded` is the name in full Unicode lower case (the one rule for
-- names, as in settings folders), so names differing only in case are one name.
CREATE TABLE preauth_connections (
    folded      text PRIMARY KEY,
    name        text NOT NULL,
    provider    text NOT NULL,
    sealed      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Logins started and not yet finished, so that one machine can finish what another
-- started. Found by the SHA-256 of their `state`, sealed like connections.
CREATE TABLE preauth_pending (
    state_hash  bytea PRIMARY KEY,
    name        text NOT NULL,
    provider    text NOT NULL,
    sealed      text NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- The data key, sealed once per machine (device key or key file) and once per unused
-- enrollment code (with a key derived from the code).
CREATE TABLE preauth_key_slots (
    slot          text PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('device', 'key file', 'enrollment')),
    sealed_key    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    expires_at    timestamptz
);
