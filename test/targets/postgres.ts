import { X509Certificate, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import pg from "pg";
import { startEmbeddedPostgres } from "@/scripts/embedded-pg";
import { freePort } from "./net";

/**
 * A private PostgreSQL with password (SCRAM) authentication: the machine's server on 5432 trusts
 * every password, so it cannot show a rejected one. Cluster in a temp dir, on a free port.
 */
export type PasswordPostgres = {
  host: string;
  port: number;
  /** A login role (not a superuser) and a database it owns. */
  user: string;
  password: string;
  database: string;
  /** Superuser URL, for setting up fixtures. */
  adminUrl: string;
  /** Turns TLS on with this server certificate and key (a reload, no restart). */
  enableTls(pem: { cert: string; key: string }): Promise<void>;
  stop(): Promise<void>;
};

export async function startPasswordPostgres(opts: { log?: (msg: string) => void } = {}): Promise<PasswordPostgres> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "latch-target-pg-"));
  // Postgres runs as the `postgres` system user when we are root, and must reach the data dir below.
  fs.chmodSync(root, 0o755);
  const dataDir = path.join(root, "data");
  let server: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  try {
    server = await startEmbeddedPostgres({ dataDir, port: await freePort(), database: "postgres", log: opts.log });
  } catch (error) {
    fs.rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const suffix = randomBytes(4).toString("hex");
  const user = `latch_t_${suffix}`;
  const password = `pw-${randomBytes(12).toString("base64url")}`;
  const database = `latch_t_db_${suffix}`;
  const adminUrl = server.url;

  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: adminUrl });
    c.on("error", () => {});
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => {});
    }
  };

  const stop = async () => {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  };

  try {
    await admin(async (c) => {
      await c.query(`CREATE ROLE ${c.escapeIdentifier(user)} LOGIN PASSWORD ${c.escapeLiteral(password)}`);
      await c.query(`CREATE DATABASE ${c.escapeIdentifier(database)} OWNER ${c.escapeIdentifier(user)}`);
    });
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    host: "127.0.0.1",
    port: server.port,
    user,
    password,
    database,
    adminUrl,
    async enableTls({ cert, key }) {
      // The key must belong to the server's own user with mode 0600, or postgres refuses it.
      const { uid, gid } = fs.statSync(dataDir);
      for (const [name, pem] of [["server.crt", cert], ["server.key", key]] as const) {
        const file = path.join(dataDir, name);
        fs.writeFileSync(file, pem, { mode: 0o600 });
        fs.chownSync(file, uid, gid);
      }
      await admin(async (c) => {
        await c.query("ALTER SYSTEM SET ssl = on");
        await c.query("SELECT pg_reload_conf()");
      });
      // The reload is asynchronous: wait until new connections are served with this certificate.
      const wanted = new X509Certificate(cert).fingerprint256;
      for (let i = 0; i < 100; i++) {
        if ((await servedFingerprint(server.port).catch(() => null)) === wanted) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("PostgreSQL did not switch to the new TLS certificate; see its log.");
    },
    stop,
  };
}

/** The fingerprint of the certificate PostgreSQL presents: SSLRequest, then a TLS handshake. */
function servedFingerprint(port: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.setTimeout(2000, () => socket.destroy(new Error("timeout")));
    socket.on("error", reject);
    socket.on("connect", () => {
      const request = Buffer.alloc(8);
      request.writeInt32BE(8, 0);
      request.writeInt32BE(80877103, 4);
      socket.write(request);
    });
    socket.once("data", (answer) => {
      if (answer.toString("latin1", 0, 1) !== "S") {
        socket.destroy();
        return resolve(null);
      }
      // Only reading the certificate here, not trusting it.
      const secure = tls.connect({ socket, rejectUnauthorized: false }, () => {
        const fingerprint = secure.getPeerCertificate().fingerprint256 ?? null;
        secure.destroy();
        resolve(fingerprint);
      });
      secure.on("error", reject);
    });
  });
}
