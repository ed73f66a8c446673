-- A connection's state lease (taken and cleared around every OAuth renewal) and its updated_at
-- decide nothing at run time: an update of only those columns no longer moves the authorisation
-- epoch, which made every instance drop what it had read for invokes twice per renewing client.
-- Everything else about a connection still counts, its kept state included.
DROP TRIGGER "connections_authz_epoch" ON "connections";
CREATE CONSTRAINT TRIGGER "connections_authz_epoch" AFTER INSERT OR DELETE ON "connections"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "bump_authz_epoch"();
CREATE CONSTRAINT TRIGGER "connections_authz_epoch_update" AFTER UPDATE ON "connections"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN ((to_jsonb(OLD) - 'state_lease_id' - 'state_lease_until' - 'updated_at') IS DISTINCT FROM (to_jsonb(NEW) - 'state_lease_id' - 'state_lease_until' - 'updated_at'))
  EXECUTE FUNCTION "bump_authz_epoch"();
