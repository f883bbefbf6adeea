-- The daily keep-alive: renew every refresh token that is getting old, then show how far
-- each connection is from needing a new login.
--
--   preauth --settings-dir /var/lib/preauth/settings examples/keepalive.sql
--
-- Run it once a day (examples/systemd/preauth-keepalive.timer, or cron). Exact Online's
-- refresh tokens die 30 days after they were obtained unless they are used; a daily run
-- renews those older than 7 days, so none ever gets older than about 8 days.
-- `preauth check` (for the monitoring system) warns when one is within 7 days of its end,
-- which only happens when this job has been failing for about two weeks.

-- Check every connection even when a refresh failed; the run still exits 1 at the end.
local on error continue

-- Renew refresh tokens obtained more than 7 days ago (`older than N days` to change that).
refresh all connections;

-- The check column: OK, WARNING (expires within 7 days), CRITICAL (within 2 days, expired,
-- or the connection cannot be opened).
check connections;
