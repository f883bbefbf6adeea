-- The preauth quick start: runs offline against the built-in sandbox.
--
--   cargo run -- --sandbox --settings-dir demo-settings examples/quickstart.sql
--
-- --sandbox starts an Exact Online compatible server on 127.0.0.1, defines ${SANDBOX_URL}
-- and logs in on its pages as the demo user (demo / demo, 2FA code 123456) when the
-- browser would open. Against the real Exact Online, leave out `api url` and give
-- `country 'nl'` (or be, de, fr, es, co.uk, com) and your own app's id, secret and
-- redirect URL.

-- Start afresh when the quick start runs again.
drop connection if exists 'demo';

local echo Pre-authenticating the demo app (one browser login becomes a stored connection)...
preauthenticate exact
  api url '${SANDBOX_URL}'
  client id '{b81cc4de-d192-400e-bcb4-09254394c52a}'
  client secret 'sandbox-demo-secret'
  redirect url 'http://127.0.0.1:53682/callback'
  as connection 'demo';

-- The connection string in demo-settings/settings-demo.xml is encrypted with this
-- machine's device key.
show connections;

-- Exact hands out a new access token only in the last 30 seconds of the old one's
-- ten minutes; the sandbox's clock can jump there.
advance sandbox clock by 10 minutes;
refresh connection 'demo';

show connection 'demo';
check connections;
