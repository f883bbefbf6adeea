-- preauth's shared store, version 2: refresh leases that outlive a database session, and
-- outlines that list and monitor connections without opening them.
--
-- A row lock dies with its session, and a session dies with a server restart or failover
-- while a refresh is on its way to the platform. So before a refresh token is sent, the
-- sender commits a lease in the row: who holds it (for people), which process on which
-- host (so a process on that host can tell a dead holder), and until when. Others that
-- see a live lease wait and never send. The answer is written back fenced on the token it
-- replaced: `refresh_hash` is the SHA-256 of the refresh token the row holds, and the
-- write only applies while the row still holds the leased one.
--
-- `outline` is the connection string without its secrets (names, URLs, client id, token
-- times, the lifecycle's records; each secret that is set replaced by a placeholder):
-- `show connections`, `preauth check` and `/metrics` read it and open nothing. NULL on
-- rows written before version 2, which are opened instead until their next write.
--
-- The summary columns (`platform` … `records`) hold what monitoring judges, typed, so
-- that `preauth check` and `/metrics` over 100,000 rows parse nothing: the platform, the
-- token times, which secrets are set (bits: 1 client secret, 2 access token, 4 refresh
-- token, 8 tokens at all) and the lifecycle's records (failure, registration). NULL on
-- rows written before version 2.
ALTER TABLE preauth_connections
    ADD COLUMN outline       text,
    ADD COLUMN platform      text,
    ADD COLUMN access_issued_at  timestamptz,
    ADD COLUMN access_expires_at timestamptz,
    ADD COLUMN refresh_issued_at timestamptz,
    ADD COLUMN secrets       smallint,
    ADD COLUMN records       text,
    ADD COLUMN refresh_hash  bytea,
    ADD COLUMN lease_id      bytea,
    ADD COLUMN lease_holder  text,
    ADD COLUMN lease_host    text,
    ADD COLUMN lease_pid     integer,
    ADD COLUMN lease_until   timestamptz;

-- `register connection` refuses a refresh token another connection holds: found by hash.
CREATE INDEX preauth_connections_refresh_hash ON preauth_connections (refresh_hash);

-- Rows written before this version (no outline, no hash yet) are found quickly.
CREATE INDEX preauth_connections_unoutlined ON preauth_connections (folded)
    WHERE outline IS NULL;
