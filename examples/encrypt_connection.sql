-- Keep secrets out of scripts: seal them once with this machine's device key, write only
-- the sealed `dk1:…` text into the script, and let `local define encrypted` open it when the
-- script runs (on this machine, for this user; anywhere else it fails with "encrypted on
-- another device"). Runs offline against the built-in sandbox, in two steps:
--
--   1. Seal the secret; prints one line, `dk1:…`:
--        preauth -c "encrypt value 'sandbox-demo-secret'"
--      (`encrypt connection 'api-url=…;api-client-id=…;api-client-secret=…'` seals a whole
--      connection string the same way; `decrypt connection 'dk1:…'` prints it back here.)
--   2. Run this script with that line:
--        preauth --sandbox --settings-dir demo-settings -D SEALED_SECRET='dk1:…' \
--                examples/encrypt_connection.sql
--      or paste the line into the `local define encrypted` below instead of the define.
--
-- The opened value is marked secret: `--echo` and error messages never show it.

local define encrypted CLIENT_SECRET "${SEALED_SECRET}"

-- Use it: pre-authenticate the sandbox's demo app with the opened client secret. The
-- settings file stores the connection string sealed under the connection's own name.
drop connection if exists 'sealed-demo';
preauthenticate exact
  api url '${SANDBOX_URL}'
  client id '{b81cc4de-d192-400e-bcb4-09254394c52a}'
  client secret '${CLIENT_SECRET}'
  redirect url 'http://127.0.0.1:53682/callback'
  as connection 'sealed-demo';

-- The client secret shows as (set); the connection is encrypted.
show connection 'sealed-demo';
