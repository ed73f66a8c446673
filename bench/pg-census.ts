/**
 * A counting TCP proxy in front of PostgreSQL, for diagnosis: point a server's DATABASE_URL at it and
 * it passes every byte through unchanged while reading the frontend's protocol messages, so it can
 * say how many statements (and round trips) a request cost and which ones. It sees the SQL text (never
 * parameter values: Bind messages are not decoded beyond the statement name).
 *
 * Works without TLS only (the benchmark's databases are local); an SSLRequest is passed through and
 * the stream is then no longer parsed.
 */
import net from "node:net";

export type Census = {
  port: number;
  /** Statements executed (extended-protocol Execute, or simple Query) by normalised SQL text. */
  statements: Map<string, number>;
  /** Round trips: Sync messages plus simple Queries. */
  roundTrips(): number;
  executed(): number;
  snapshot(): { statements: Map<string, number>; roundTrips: number; executed: number };
  close(): Promise<void>;
};

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** One line, whitespace collapsed, long IN-lists and identifiers left as they are (they carry no values). */
export const normaliseSql = (sql: string) => sql.replace(/\s+/g, " ").trim();

export async function startCensus(upstream: { host: string; port: number }, listenPort: number): Promise<Census> {
  const statements = new Map<string, number>();
  let syncs = 0;
  let simple = 0;
  let executes = 0;
  const sockets = new Set<net.Socket>();
  const count = (sql: string) => statements.set(sql, (statements.get(sql) ?? 0) + 1);

  const server = net.createServer((client) => {
    const server = net.connect(upstream.port, upstream.host);
    sockets.add(client).add(server);
    client.on("close", () => (sockets.delete(client), server.destroy()));
    server.on("close", () => (sockets.delete(server), client.destroy()));
    client.on("error", () => server.destroy());
    server.on("error", () => client.destroy());
    server.pipe(client);

    let buffer = Buffer.alloc(0);
    let started = false; // the untyped startup message has been seen
    let parsing = true;
    // Prepared statement name → text ("" is the unnamed statement, replaced by every Parse).
    const prepared = new Map<string, string>();
    // Portal name → statement text, from Bind.
    const portals = new Map<string, string>();

    client.on("data", (chunk: Buffer) => {
      server.write(chunk);
      if (!parsing) return;
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (!started) {
          if (buffer.length < 8) return;
          const len = buffer.readInt32BE(0);
          if (buffer.length < len) return;
          const code = buffer.readInt32BE(4);
          buffer = buffer.subarray(len);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            parsing = false; // the server may agree to encrypt; we cannot read on
            return;
          }
          started = true;
          continue;
        }
        if (buffer.length < 5) return;
        const type = String.fromCharCode(buffer[0]!);
        const len = buffer.readInt32BE(1);
        if (buffer.length < 1 + len) return;
        const body = buffer.subarray(5, 1 + len);
        buffer = buffer.subarray(1 + len);
        const cstr = (from: number) => {
          const end = body.indexOf(0, from);
          return { text: body.toString("utf8", from, end), next: end + 1 };
        };
        if (type === "Q") {
          simple++;
          count(normaliseSql(cstr(0).text));
        } else if (type === "P") {
          const name = cstr(0);
          prepared.set(name.text, normaliseSql(cstr(name.next).text));
        } else if (type === "B") {
          const portal = cstr(0);
          const statement = cstr(portal.next);
          portals.set(portal.text, prepared.get(statement.text) ?? "(unknown prepared statement)");
        } else if (type === "E") {
          executes++;
          count(portals.get(cstr(0).text) ?? "(unknown portal)");
        } else if (type === "S") {
          syncs++;
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, "127.0.0.1", () => resolve());
  });
  const census: Census = {
    port: listenPort,
    statements,
    roundTrips: () => syncs + simple,
    executed: () => executes + simple,
    snapshot: () => ({ statements: new Map(statements), roundTrips: census.roundTrips(), executed: census.executed() }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  return census;
}

/** Statements between two snapshots, per unit of work (e.g. per invoke), most frequent first. */
export function perUnit(before: ReturnType<Census["snapshot"]>, after: ReturnType<Census["snapshot"]>, units: number) {
  const rows: { sql: string; perUnit: number }[] = [];
  for (const [sql, n] of after.statements) {
    const delta = n - (before.statements.get(sql) ?? 0);
    if (delta > 0) rows.push({ sql, perUnit: Math.round((delta / units) * 100) / 100 });
  }
  rows.sort((a, b) => b.perUnit - a.perUnit || a.sql.localeCompare(b.sql));
  return {
    statementsPerUnit: Math.round(((after.executed - before.executed) / units) * 100) / 100,
    roundTripsPerUnit: Math.round(((after.roundTrips - before.roundTrips) / units) * 100) / 100,
    statements: rows,
  };
}
