-- The refresh log is read at run time (an invoke's newest refresh), so a new event bumps the
-- authorisation epoch. Pruning old events changes nothing any decision reads, but fired the trigger
-- once per deleted row: one epoch update and one NOTIFY each, and every instance re-read its tokens,
-- connections and assets. Inserts (and updates) only, now.
DROP TRIGGER "refresh_events_authz_epoch" ON "refresh_events";
CREATE CONSTRAINT TRIGGER "refresh_events_authz_epoch" AFTER INSERT OR UPDATE ON "refresh_events"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "bump_authz_epoch"();
