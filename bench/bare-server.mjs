// The invoke benchmark's baseline: a bare node:http server that does what an invoke does at its core
// and nothing else. It reads the same JSON body ({ operation, input: { sql, params } }), runs the
// statement on a pg.Pool against the same PostgreSQL, and answers with the same shape of JSON. No
// authentication, authorisation, secrets, audit, validation library or framework.
//
//   BARE_PORT=3125 BARE_TARGET_URL=postgresql://user:pw@127.0.0.1:5432/postgres BARE_POOL_MAX=1 node bench/bare-server.mjs
import http from "node:http";
import pg from "pg";

const port = Number(process.env.BARE_PORT ?? 3125);
const max = Number(process.env.BARE_POOL_MAX ?? 10);
const pool = new pg.Pool({ connectionString: process.env.BARE_TARGET_URL, max, application_name: "latch-bench-bare" });
pool.on("error", () => {});

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const started = performance.now();
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const result = await pool.query({ text: body.input.sql, values: body.input.params ?? [], rowMode: "array" });
      const out = JSON.stringify({
        operation: body.operation,
        result: { columns: result.fields.map((f) => f.name), rows: result.rows, rowCount: result.rows.length, truncated: false },
        durationMs: Math.round(performance.now() - started),
      });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
      res.end(out);
    } catch (error) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: String(error?.code ?? "failed") }));
    }
  });
});

// Opens the pool's connections before the first measured request, as Latch's warm-up does for its pool.
await Promise.all(Array.from({ length: max }, () => pool.connect().then((c) => c.release())));
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1", () => process.send?.("ready"));
// Forked by the benchmark: if it goes away, so does this server.
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => {
  server.close();
  void pool.end().finally(() => process.exit(0));
});
