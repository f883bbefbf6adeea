-- The OEM flow: register a connection from tokens that your own (branded) web application
-- obtained from Exact Online hours or days ago, prove them against the platform, store them
-- encrypted with this machine's device key, and show when the refresh token expires.
--
--   preauth -D API_URL=https://start.exactonline.nl \
--           -D CLIENT_ID='{your-app-client-id}' -D CLIENT_SECRET='your-app-secret' \
--           -D REDIRECT_URL='https://your.app/oauth/callback' \
--           -D ACCESS='…' -D REFRESH='…' -D OBTAINED='2026-11-20T10:00:00Z' \
--           -D CONNECTION=acme-nl \
--           examples/oem_register.sql
--
-- The defines (-D NAME=VALUE on the command line; or put `local define NAME "value"` lines
-- right below this comment and leave out the -D):
--   API_URL        the platform's host: https://start.exactonline.{nl,be,de,fr,es,co.uk,com}
--   CLIENT_ID      your app's client id from the Exact App Center
--   CLIENT_SECRET  your app's client secret
--   REDIRECT_URL   the redirect URL registered for your app (the one that got the code)
--   ACCESS         the access token your web application received
--   REFRESH        the refresh token it received with it (single use: never refresh it
--                  yourself after handing it over, or the stored one is spent)
--   OBTAINED       when the token answer arrived, as RFC 3339 (UTC); preauth refuses a
--                  refresh token past Exact's 30 days and shows the expiry from this time
--   CONNECTION     the name of the connection (settings-<CONNECTION>.xml)
--
-- Nothing below prints the client secret or the refresh token; only the last statement
-- prints an access token, because it is asked for.

-- Refuse the tokens unless the platform accepts them (`verify`): a refresh token that is
-- expired or already spent fails here, before anything is stored. The answer says when the
-- refresh token expires.
register connection '${CONNECTION}'
  platform exact
  api url '${API_URL}'
  client id '${CLIENT_ID}'
  client secret '${CLIENT_SECRET}'
  redirect url '${REDIRECT_URL}'
  access token '${ACCESS}'
  refresh token '${REFRESH}'
  obtained at '${OBTAINED}'
  verify;

-- Status, access-token and refresh-token expiry; secrets show as (set).
show connection '${CONNECTION}';

-- A valid access token for a job (refreshed first when due, and stored before it is printed).
show access token for connection '${CONNECTION}';

-- Keep it alive from now on: schedule `preauth -c "refresh all connections"` daily, and
-- `preauth check` in your monitoring.
