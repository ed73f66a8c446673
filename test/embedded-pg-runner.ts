/**
 * A stand-in for `npm run up` in scripts/embedded-pg.test.ts: starts the embedded PostgreSQL on the
 * data directory and port it is given, says "ready", and runs until it is killed.
 *   node --import tsx test/embedded-pg-runner.ts <dataDir> <port>
 */
import { startEmbeddedPostgres } from "../scripts/embedded-pg";

const [dataDir, port] = process.argv.slice(2);
void startEmbeddedPostgres({ dataDir: dataDir!, port: Number(port), database: "t" }).then(() => {
  console.log("ready");
  setInterval(() => {}, 1000);
});
