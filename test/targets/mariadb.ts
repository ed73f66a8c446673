import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";

/**
 * A throwaway user and database on the machine's MariaDB/MySQL (127.0.0.1:3306, root without a
 * password, which it accepts from localhost). Call cleanup() to drop both.
 */
export type MariadbUser = {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** Runs SQL as root, for fixtures (e.g. a table the user may not read). */
  admin(sql: string, params?: unknown[]): Promise<unknown>;
  cleanup(): Promise<void>;
};

const ADMIN = { host: "127.0.0.1", port: 3306, user: "root", password: "" };

export async function createMariadbUser(): Promise<MariadbUser> {
  const suffix = randomBytes(4).toString("hex");
  const user = `latch_t_${suffix}`;
  const password = `pw-${randomBytes(12).toString("base64url")}`;
  const database = `latch_t_db_${suffix}`;
  // '%' and '127.0.0.1': the more specific account wins when one for 127.0.0.1 exists.
  const accounts = ["%", "127.0.0.1"];

  const admin = async (sql: string, params: unknown[] = []) => {
    const c = await mysql.createConnection(ADMIN);
    try {
      const [result] = await c.query(sql, params);
      return result;
    } finally {
      await c.end().catch(() => {});
    }
  };

  await admin(`CREATE DATABASE \`${database}\``);
  for (const host of accounts) {
    await admin("CREATE USER ?@? IDENTIFIED BY ?", [user, host, password]);
    await admin(`GRANT ALL PRIVILEGES ON \`${database}\`.* TO ?@?`, [user, host]);
  }

  return {
    host: "127.0.0.1",
    port: ADMIN.port,
    user,
    password,
    database,
    admin,
    async cleanup() {
      for (const host of accounts) await admin("DROP USER IF EXISTS ?@?", [user, host]);
      await admin(`DROP DATABASE IF EXISTS \`${database}\``);
    },
  };
}
