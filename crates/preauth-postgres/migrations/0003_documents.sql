-- preauth's shared store, version 3: the store's small documents (user-defined platforms,
-- `platforms.xml`; preauth serve's API key hashes, `api-keys.json`), so that every machine
-- and every serve replica using the store knows the same platforms and accepts the same
-- keys. A change locks the document (an advisory lock on its name) for read-change-write.
CREATE TABLE preauth_documents (
    name        text PRIMARY KEY,
    body        bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
