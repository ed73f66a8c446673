import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { exerciseStore } from "@/lib/stores/exercise";
import { seedDemoHashicorp, startHashicorpEmulator, type HashicorpEmulator } from "@/test/emulators/hashicorp";
import type { Emulator } from "@/test/emulators/harness";
import { createTestPki, startMisnamedServer, type TestPki } from "@/test/emulators/tls";
import type { CommonOptions, StoreClient } from "../../types";
import { hashicorpConfigSchema, hashicorpProvider } from "./index";
import { storeFailureRecorder } from "@/test/store-failures";

const ROLE_ID = "latch-role-id-0001";
const SECRET_ID = "latch-secret-id-supersecret-0001";
const USER = "latch-svc";
const PASSWORD = "userpass-Pa55word!";
const VALUES = { username: "payroll_app", password: "Payr0ll-s3cret!" };

let pki: TestPki;
let emu: HashicorpEmulator;
let token: string;
const clients: StoreClient[] = [];
const { messages, failure } = storeFailureRecorder();

beforeAll(async () => {
  pki = createTestPki();
  emu = await startHashicorpEmulator({ pki });
  token = emu.createToken({ ttlSeconds: 3600 });
  emu.addAppRole("latch", { roleId: ROLE_ID, secretId: SECRET_ID }, { tokenTtlSeconds: 3600 });
  emu.addUserpass(USER, PASSWORD, { tokenTtlSeconds: 3600 });
  emu.seedSecret({ path: "prod/payroll-db", data: { ...VALUES, port: 5432, tls: true } });
  emu.seedSecret({ mount: "kv", path: "legacy/ftp", data: { username: "ftp_user", password: "ftp-pass" } });
});

afterEach(async () => {
  emu.clearFaults();
  await Promise.all(clients.splice(0).flatMap((c) => c.close?.() ?? []));
});

afterAll(async () => {
  await emu?.close();
});

type ConfigInput = Record<string, string>;

function makeClient(config: ConfigInput = {}, secrets: Record<string, string> = { token }, common: Partial<CommonOptions> = {}): StoreClient {
  const client = hashicorpProvider.create({
    storeId: "store-vault-test",
    config: hashicorpConfigSchema.parse({ address: emu.url, ...config }),
    secrets: hashicorpProvider.secretSchema.parse(secrets),
    common: { caBundle: pki.caCert, timeoutMs: 3000, ...common },
  });
  clients.push(client);
  return client;
}
const approle = (config: ConfigInput = {}, secretId = SECRET_ID, common: Partial<CommonOptions> = {}) => makeClient({ auth: "approle", roleId: ROLE_ID, ...config }, { secretId }, common);
const userpass = (password = PASSWORD) => makeClient({ auth: "userpass", username: USER }, { password });

const logins = () => emu.count("/login", "POST");

describe("HashiCorp Vault provider: reading", () => {
  it("reads KV v2 with a token: values (non-strings as JSON), version and creation time, token header sent", async () => {
    const secret = await makeClient({ kvVersion: "2" }).getSecret({ name: "prod/payroll-db" });
    expect(secret.values).toEqual({ ...VALUES, port: "5432", tls: "true" });
    expect(secret.version).toBe("1");
    expect(Math.abs(secret.updatedAt!.getTime() - Date.now())).toBeLessThan(60_000);
    const last = emu.requests.at(-1)!;
    expect(last.path).toBe("/v1/secret/data/prod/payroll-db");
    expect(last.headers["x-vault-token"]).toBe(token);
    expect(last.headers["x-vault-namespace"]).toBeUndefined();
  });

  it("detects the KV version of each mount once (v2 for secret/, v1 for kv/)", async () => {
    const v2 = makeClient();
    const before = emu.count("/sys/internal/ui/mounts/");
    expect((await v2.getSecret({ name: "prod/payroll-db" })).version).toBe("1");
    expect((await v2.getSecret({ name: "prod/payroll-db" })).values.username).toBe("payroll_app");
    expect(emu.count("/sys/internal/ui/mounts/secret") - before).toBe(1);

    const v1 = makeClient({ mount: "/kv/" });
    expect(await v1.getSecret({ name: "legacy/ftp" })).toEqual({ values: { username: "ftp_user", password: "ftp-pass" }, version: null, updatedAt: null });
    expect(emu.requests.at(-1)!.path).toBe("/v1/kv/legacy/ftp");
  });

  it("detects again once a mount it found to be KV v1 has been upgraded to v2, without a new client", async () => {
    emu.mountKv({ path: "upgraded", version: 1 });
    emu.seedSecret({ mount: "upgraded", path: "app/conf", data: { value: "before" } });
    const client = makeClient({ mount: "upgraded", kvVersion: "auto" });
    expect((await client.getSecret({ name: "app/conf" })).values).toEqual({ value: "before" });
    // `vault kv enable-versioning upgraded/`: the data stays, now under a KV v2 mount.
    emu.mountKv({ path: "upgraded", version: 2 });
    emu.seedSecret({ mount: "upgraded", path: "app/conf", data: { value: "after" } });
    // The read under the old version is refused as one for the wrong KV version; the next detects v2.
    expect((await failure(client.getSecret({ name: "app/conf" }))).kind).toBe("config");
    expect((await client.getSecret({ name: "app/conf" })).values).toEqual({ value: "after" });
  });

  it("reads, writes and deletes on KV v1, and refuses a version there", async () => {
    const client = makeClient({ mount: "kv", kvVersion: "1" });
    expect(await client.putSecret!({ name: "app/one" }, { value: "v1-value" })).toEqual({ version: null });
    expect(emu.requests.at(-1)!.body).toBe(JSON.stringify({ value: "v1-value" }));
    expect((await client.getSecret({ name: "app/one" })).values).toEqual({ value: "v1-value" });
    expect((await failure(client.getSecret({ name: "app/one", version: "2" }))).kind).toBe("config");
    await client.deleteSecret!({ name: "app/one" });
    expect((await failure(client.getSecret({ name: "app/one" }))).kind).toBe("not_found");
  });

  it("selects KV v2 versions, and refuses a non-numeric version", async () => {
    emu.seedSecret({ path: "app/rotating", data: { password: "one" } });
    const { version } = emu.seedSecret({ path: "app/rotating", data: { password: "two" } });
    const client = makeClient({ kvVersion: "2" });
    expect(await client.getSecret({ name: "app/rotating" })).toMatchObject({ values: { password: "two" }, version: String(version) });
    expect(await client.getSecret({ name: "app/rotating", version: "1" })).toMatchObject({ values: { password: "one" }, version: "1" });
    expect(emu.requests.at(-1)!.path).toBe("/v1/secret/data/app/rotating?version=1");
    expect((await failure(client.getSecret({ name: "app/rotating", version: "latest-ish" }))).kind).toBe("config");
    expect((await failure(client.getSecret({ name: "app/rotating", version: "9" }))).kind).toBe("not_found");
  });

  it("tells not found from deleted and destroyed versions", async () => {
    emu.seedSecret({ path: "app/retired", data: { value: "a" } });
    emu.seedSecret({ path: "app/retired", data: { value: "b" } });
    const client = makeClient();
    expect(await failure(client.getSecret({ name: "app/never-existed" }))).toMatchObject({ kind: "not_found", message: expect.stringContaining("app/never-existed") });
    emu.deleteSecret({ path: "app/retired" });
    expect(await failure(client.getSecret({ name: "app/retired" }))).toMatchObject({ kind: "deleted", message: expect.stringMatching(/Version 2 .* was deleted/) });
    emu.deleteSecret({ path: "app/retired", versions: [1], destroy: true });
    expect(await failure(client.getSecret({ name: "app/retired", version: "1" }))).toMatchObject({ kind: "deleted", message: expect.stringContaining("destroyed") });
    emu.undeleteSecret({ path: "app/retired", versions: [2] });
    expect((await client.getSecret({ name: "app/retired" })).values.value).toBe("b");
  });

  it("reports a missing mount as a configuration problem", async () => {
    expect(await failure(makeClient({ mount: "nope" }).getSecret({ name: "x" }))).toMatchObject({ kind: "config", message: expect.stringContaining("nope/") });
    expect((await failure(makeClient({ mount: "nope", kvVersion: "2" }).getSecret({ name: "x" }))).kind).toBe("config");
    expect((await failure(makeClient().getSecret({ name: "a/../b" }))).kind).toBe("config");
  });

  it("keeps namespaces apart (X-Vault-Namespace), including their logins", async () => {
    emu.seedSecret({ namespace: "team-a", path: "prod/payroll-db", data: { username: "team_a_user", password: "team-a-pass" } });
    emu.seedSecret({ namespace: "team-a", path: "only/in-team-a", data: { value: "a" } });
    emu.addAppRole("team-a", { roleId: "team-a-role", secretId: "team-a-secret-id" }, { namespace: "team-a" });

    const nsClient = makeClient({ namespace: "/team-a/" });
    expect((await nsClient.getSecret({ name: "prod/payroll-db" })).values.username).toBe("team_a_user");
    expect(emu.requests.at(-1)!.headers["x-vault-namespace"]).toBe("team-a");
    expect((await failure(makeClient().getSecret({ name: "only/in-team-a" }))).kind).toBe("not_found");
    expect(await failure(makeClient({ namespace: "team-b" }).getSecret({ name: "prod/payroll-db" }))).toMatchObject({ kind: "config", message: expect.stringContaining("no namespace “team-b”") });

    const nsRole = makeClient({ namespace: "team-a", auth: "approle", roleId: "team-a-role" }, { secretId: "team-a-secret-id" });
    expect((await nsRole.getSecret({ name: "only/in-team-a" })).values.value).toBe("a");
    // A team-a token does not work in the root namespace, and the role does not exist there.
    const nsToken = emu.issuedTokens().at(-1)!;
    expect(nsToken.namespace).toBe("team-a");
    expect((await failure(makeClient({}, { token: nsToken.id }).getSecret({ name: "prod/payroll-db" }))).kind).toBe("auth");
    expect((await failure(makeClient({ auth: "approle", roleId: "team-a-role" }, { secretId: "team-a-secret-id" }).health())).kind).toBe("auth");
  });
});

describe("HashiCorp Vault provider: writing", () => {
  it("writes new KV v2 versions and deletes every version", async () => {
    const client = makeClient();
    const first = await client.putSecret!({ name: "app/written" }, { value: "w1" });
    const second = await client.putSecret!({ name: "app/written" }, { username: "u", password: "p" });
    expect(first.version).toBe("1");
    expect(second.version).toBe("2");
    expect(JSON.parse(emu.requests.at(-1)!.body)).toEqual({ data: { username: "u", password: "p" } });
    expect(await client.getSecret({ name: "app/written" })).toMatchObject({ values: { username: "u", password: "p" }, version: "2" });
    await client.deleteSecret!({ name: "app/written" });
    expect(emu.requests.at(-1)).toMatchObject({ method: "DELETE", path: "/v1/secret/metadata/app/written" });
    expect(emu.secretExists({ path: "app/written" })).toBe(false);
    expect((await failure(client.getSecret({ name: "app/written" }))).kind).toBe("not_found");
  });

  it("passes the console's store test (write, read back, delete) on KV v2 and v1, and the read-only test", async () => {
    for (const config of [{}, { mount: "kv" }, { auth: "approle", roleId: ROLE_ID }] as ConfigInput[]) {
      const secrets: Record<string, string> = config.auth === "approle" ? { secretId: SECRET_ID } : { token };
      const result = await exerciseStore(makeClient(config, secrets), { mode: "READ_WRITE", host: new URL(emu.url).host });
      expect(result).toMatchObject({ ok: true });
    }
    const ro = await exerciseStore(userpass(), { mode: "READ_ONLY", probeSecret: "prod/payroll-db", host: new URL(emu.url).host });
    expect(ro).toMatchObject({ ok: true, message: expect.stringContaining("password, port, tls, username") });
  });
});

describe("HashiCorp Vault provider: authentication", () => {
  it("logs in with AppRole lazily, once, and reuses the token", async () => {
    const before = logins();
    const client = approle();
    expect(logins()).toBe(before);
    await client.getSecret({ name: "prod/payroll-db" });
    await client.getSecret({ name: "prod/payroll-db" });
    expect(logins() - before).toBe(1);
    const login = emu.requests.filter((r) => r.path === "/v1/auth/approle/login").at(-1)!;
    expect(JSON.parse(login.body)).toEqual({ role_id: ROLE_ID, secret_id: SECRET_ID });
    const issued = emu.issuedTokens().filter((t) => t.path === "auth/approle/login").at(-1)!;
    expect(emu.requests.at(-1)!.headers["x-vault-token"]).toBe(issued.id);
  });

  it("uses a custom AppRole mount and maps a bad secret id or role id to auth", async () => {
    emu.addAppRole("custom", { roleId: "custom-role", secretId: "custom-secret-id" }, { mount: "ci-approle" });
    const before = emu.requests.length;
    await expect(makeClient({ auth: "approle", roleId: "custom-role", approleMount: "ci-approle" }, { secretId: "custom-secret-id" }).health()).resolves.toBeUndefined();
    expect(emu.requests.slice(before).map((r) => r.path)).toEqual(["/v1/auth/ci-approle/login", "/v1/sys/internal/ui/mounts/secret"]);
    const bad = await failure(approle({}, "wrong-secret-id-value").getSecret({ name: "prod/payroll-db" }));
    expect(bad).toMatchObject({ kind: "auth", message: expect.stringContaining("role ID or secret ID is not valid") });
    expect((await failure(approle({ roleId: "unknown-role" }).health())).kind).toBe("auth");
    expect((await failure(makeClient({ auth: "approle", roleId: ROLE_ID }, {}).health())).kind).toBe("config");
  });

  it("logs in with userpass, and maps a wrong password to auth", async () => {
    expect((await userpass().getSecret({ name: "prod/payroll-db" })).values.username).toBe("payroll_app");
    expect(emu.requests.some((r) => r.path === `/v1/auth/userpass/login/${USER}` && JSON.parse(r.body).password === PASSWORD)).toBe(true);
    expect(await failure(userpass("wrong-password-123").getSecret({ name: "prod/payroll-db" }))).toMatchObject({ kind: "auth", message: expect.stringContaining("username or password is not valid") });
    await expect(userpass().health()).resolves.toBeUndefined();
  });

  it("health looks up a token, and fails for a bad one", async () => {
    const before = emu.requests.length;
    await expect(makeClient().health()).resolves.toBeUndefined();
    expect(emu.requests.slice(before).map((r) => r.path)).toEqual(["/v1/auth/token/lookup-self", "/v1/sys/internal/ui/mounts/secret"]);
    expect(await failure(makeClient({}, { token: "hvs.not-a-real-token" }).health())).toMatchObject({ kind: "auth", message: expect.stringContaining("invalid, expired or revoked") });
    expect((await failure(makeClient({}, {}).health())).kind).toBe("config");
  });

  it("AppRole logs in again when its token is revoked; the token method reports auth", async () => {
    const client = approle();
    await client.getSecret({ name: "prod/payroll-db" });
    const before = logins();
    expect(emu.revokeToken(emu.issuedTokens().at(-1)!.id)).toBe(1);
    expect((await client.getSecret({ name: "prod/payroll-db" })).values.username).toBe("payroll_app");
    expect(logins() - before).toBe(1);

    const own = emu.createToken({ ttlSeconds: 600 });
    const tokenClient = makeClient({}, { token: own });
    await tokenClient.getSecret({ name: "prod/payroll-db" });
    emu.revokeToken(own);
    const error = await failure(tokenClient.getSecret({ name: "prod/payroll-db" }));
    expect(error).toMatchObject({ kind: "auth", message: expect.stringContaining("the token is invalid, expired or revoked") });
    expect(error.message).toContain("prod/payroll-db");
  });

  /** Runs `read` with the clock past the minute between new logins for a refused read. */
  async function aMinuteOn<T>(read: () => Promise<T>): Promise<T> {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 61_000 });
    try {
      return await read();
    } finally {
      vi.useRealTimers();
    }
  }

  it("AppRole surfaces a permission problem when a live token is refused (policy), logging in again at most once a minute", async () => {
    emu.addAppRole("narrow", { roleId: "narrow-role", secretId: "narrow-secret-id" }, { allowedPaths: ["secret/data/allowed/", "sys/"] });
    const client = makeClient({ auth: "approle", roleId: "narrow-role" }, { secretId: "narrow-secret-id" });
    const before = logins();
    // The first refusal tries a new login (a policy added to the role reaches only new tokens), which is refused too.
    const error = await failure(client.getSecret({ name: "prod/payroll-db" }));
    expect(error).toMatchObject({ kind: "permission", message: expect.stringContaining("even with a fresh login") });
    expect(logins() - before).toBe(2);
    // Asked again at once (a connection invoked in a loop): the live token is kept, no new login.
    const again = await failure(client.getSecret({ name: "prod/payroll-db" }));
    expect(again).toMatchObject({ kind: "permission", message: expect.stringContaining("with a valid token") });
    expect(logins() - before).toBe(2);
    // A minute on, one new login again.
    expect((await aMinuteOn(() => failure(client.getSecret({ name: "prod/payroll-db" })))).kind).toBe("permission");
    expect(logins() - before).toBe(3);
  });

  it("AppRole without Vault's default policy (its tokens cannot look themselves up): a refused read logs in again at most once a minute too", async () => {
    emu.addAppRole("no-default", { roleId: "no-default-role", secretId: "no-default-secret-id" }, { allowedPaths: ["secret/data/allowed/", "sys/"], tokenNoDefaultPolicy: true });
    const client = makeClient({ auth: "approle", roleId: "no-default-role" }, { secretId: "no-default-secret-id" });
    const before = logins();
    expect((await failure(client.getSecret({ name: "prod/payroll-db" }))).kind).toBe("permission");
    expect(logins() - before).toBe(2);
    // A connection invoked in a loop against a path the role does not reach: no login per read, and
    // so no live token left behind per read.
    for (let i = 0; i < 3; i++) expect((await failure(client.getSecret({ name: "prod/payroll-db" }))).kind).toBe("permission");
    expect(logins() - before).toBe(2);
    expect((await aMinuteOn(() => failure(client.getSecret({ name: "prod/payroll-db" })))).kind).toBe("permission");
    expect(logins() - before).toBe(3);
    // A token that was revoked is still replaced once the minute has passed; a path the role reaches reads.
    emu.seedSecret({ path: "allowed/app", data: { password: "p" } });
    expect((await client.getSecret({ name: "allowed/app" })).values.password).toBe("p");
  });

  it("renews the token past half its lease, and logs in again when renewal fails", async () => {
    emu.addAppRole("short", { roleId: "short-role", secretId: "short-secret-id" }, { tokenTtlSeconds: 2, tokenMaxTtlSeconds: 60, renewable: true });
    const client = makeClient({ auth: "approle", roleId: "short-role" }, { secretId: "short-secret-id" });
    await client.getSecret({ name: "prod/payroll-db" });
    const loginsBefore = logins();
    const renewsBefore = emu.count("/auth/token/renew-self", "POST");
    await new Promise((r) => setTimeout(r, 1100));
    await client.getSecret({ name: "prod/payroll-db" });
    expect(emu.count("/auth/token/renew-self", "POST") - renewsBefore).toBe(1);
    expect(logins()).toBe(loginsBefore);

    // Revoked while due for renewal: renew-self is refused, so Latch logs in again.
    await new Promise((r) => setTimeout(r, 1100));
    emu.revokeToken(emu.issuedTokens().filter((t) => t.path === "auth/approle/login").at(-1)!.id);
    expect((await client.getSecret({ name: "prod/payroll-db" })).values.username).toBe("payroll_app");
    expect(emu.count("/auth/token/renew-self", "POST") - renewsBefore).toBe(2);
    expect(logins() - loginsBefore).toBe(1);
  });

  it("logs in again instead of renewing a non-renewable token", async () => {
    emu.addAppRole("fixed", { roleId: "fixed-role", secretId: "fixed-secret-id" }, { tokenTtlSeconds: 1, renewable: false });
    const client = makeClient({ auth: "approle", roleId: "fixed-role" }, { secretId: "fixed-secret-id" });
    await client.getSecret({ name: "prod/payroll-db" });
    const before = logins();
    const renews = emu.count("/auth/token/renew-self");
    await new Promise((r) => setTimeout(r, 600));
    await client.getSecret({ name: "prod/payroll-db" });
    expect(logins() - before).toBe(1);
    expect(emu.count("/auth/token/renew-self")).toBe(renews);
  });
});

describe("HashiCorp Vault provider: a static token's own lifecycle", () => {
  const renewals = () => emu.count("/auth/token/renew-self", "POST");
  const info = (id: string) => emu.issuedTokens().find((t) => t.id === id)!;

  it("looks a renewable token up once, and renews it once past half its TTL (seen in Vault's log)", async () => {
    const own = emu.createToken({ ttlSeconds: 60, maxTtlSeconds: 3600 });
    const fresh = makeClient({ kvVersion: "2" }, { token: own });
    await fresh.getSecret({ name: "prod/payroll-db" });
    await fresh.getSecret({ name: "prod/payroll-db" });
    expect(emu.count("/auth/token/lookup-self")).toBeGreaterThan(0);
    expect(info(own).renewals).toBe(0);

    // 20 s of 60 left: past half, so the next client renews before its first read, then reads with it.
    expect(emu.setTokenTtl({ token: own }, 20)).toBe(1);
    const before = { renewals: renewals(), mark: emu.requests.length };
    const client = makeClient({ kvVersion: "2" }, { token: own });
    expect((await client.getSecret({ name: "prod/payroll-db" })).values.username).toBe("payroll_app");
    await client.getSecret({ name: "prod/payroll-db" });
    expect(emu.requests.slice(before.mark).map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /v1/auth/token/lookup-self",
      "POST /v1/auth/token/renew-self",
      "GET /v1/secret/data/prod/payroll-db",
      "GET /v1/secret/data/prod/payroll-db",
    ]);
    expect(renewals() - before.renewals).toBe(1);
    expect(info(own).renewals).toBe(1);
    expect(info(own).expiresAt!.getTime() - Date.now()).toBeGreaterThan(55_000);
  });

  it("renews as time passes, not only at start-up", async () => {
    const own = emu.createToken({ ttlSeconds: 2, maxTtlSeconds: 600 });
    const client = makeClient({ kvVersion: "2" }, { token: own });
    await client.getSecret({ name: "prod/payroll-db" });
    expect(info(own).renewals).toBe(0);
    await new Promise((r) => setTimeout(r, 1100));
    await client.getSecret({ name: "prod/payroll-db" });
    expect(info(own).renewals).toBe(1);
  });

  it("stops renewing at the token's maximum TTL and uses it to the end", async () => {
    const own = emu.createToken({ ttlSeconds: 60 });
    emu.setTokenTtl({ token: own }, 20, 25);
    const client = makeClient({ kvVersion: "2" }, { token: own });
    await client.getSecret({ name: "prod/payroll-db" });
    await client.getSecret({ name: "prod/payroll-db" });
    await client.getSecret({ name: "prod/payroll-db" });
    expect(info(own).renewals).toBe(1);
  });

  it("never calls renew-self for a non-renewable token, and says to replace it once it has expired", async () => {
    const own = emu.createToken({ ttlSeconds: 2, renewable: false });
    const client = makeClient({ kvVersion: "2" }, { token: own });
    const before = renewals();
    await client.getSecret({ name: "prod/payroll-db" });
    await new Promise((r) => setTimeout(r, 1100));
    await client.getSecret({ name: "prod/payroll-db" });
    await new Promise((r) => setTimeout(r, 1200));
    const mark = emu.requests.length;
    const error = await failure(client.getSecret({ name: "prod/payroll-db" }), "auth");
    expect(error.message).toMatch(/^The Vault token expired at \S+ and cannot be renewed .*Create a new token for Latch and replace it in the store's settings/);
    expect(emu.requests.length).toBe(mark);
    expect(renewals()).toBe(before);
  });

  it("a revoked or expired token is reported as such, with what to do, not as a policy problem", async () => {
    for (const kill of [(id: string) => emu.revokeToken(id), (id: string) => emu.expireTokens({ token: id })]) {
      const own = emu.createToken({ ttlSeconds: 600 });
      const client = makeClient({ kvVersion: "2" }, { token: own });
      await client.getSecret({ name: "prod/payroll-db" });
      expect(kill(own)).toBe(1);
      const error = await failure(client.getSecret({ name: "prod/payroll-db" }), "auth");
      expect(error.message).toContain("Vault refused the token (HTTP 403) while Latch tried to read “prod/payroll-db”: the token is invalid, expired or revoked");
      expect(error.message).toContain("If it is gone, create a new token for Latch and replace it in the store's settings");
      expect(await failure(client.health(), "auth")).toMatchObject({ message: expect.stringContaining("replace it in the store's settings") });
    }
  });

  it("a live token whose policy does not reach the path is a policy problem, not a dead token", async () => {
    const own = emu.createToken({ ttlSeconds: 600, allowedPaths: ["secret/data/allowed/"] });
    const error = await failure(makeClient({ kvVersion: "2" }, { token: own }).getSecret({ name: "prod/payroll-db" }), "permission");
    expect(error.message).toMatch(/the token is valid, but its policies do not allow Latch to read “prod\/payroll-db”/);
  });

  it("a write needs “create” for a new secret and “update” for an existing one: a policy with one of them fails half, and says so", async () => {
    emu.writePolicy({ name: "create-only", rules: { "secret/data/caps/*": ["create", "read"], "secret/metadata/caps/*": ["read"] } });
    emu.writePolicy({ name: "update-only", rules: { "secret/data/caps/*": ["update", "read"], "secret/metadata/caps/*": ["read"] } });
    const creator = makeClient({ kvVersion: "2" }, { token: emu.createToken({ policies: ["create-only"] }) });
    const updater = makeClient({ kvVersion: "2" }, { token: emu.createToken({ policies: ["update-only"] }) });
    const name = `caps/${randomUUID().slice(0, 8)}`;
    const hint = "a write needs “create” for a secret that does not exist yet and “update” for one that does";
    expect((await failure(updater.putSecret!({ name }, { value: "one" }), "permission")).message).toContain(hint);
    await creator.putSecret!({ name }, { value: "one" });
    expect((await failure(creator.putSecret!({ name }, { value: "two" }), "permission")).message).toContain(hint);
    await updater.putSecret!({ name }, { value: "two" });
    expect((await creator.getSecret({ name })).values.value).toBe("two");
  });

  it("a live token created without the default policy may not look itself up: the message says that as well as “dead”", async () => {
    emu.writePolicy({ name: "reads-payroll", rules: { "secret/data/prod/*": ["read"] } });
    const client = makeClient({ kvVersion: "2" }, { token: emu.createToken({ ttlSeconds: 600, noDefaultPolicy: true, policies: ["reads-payroll"] }) });
    // It works where its policy reaches (reads do not need the lookup).
    expect((await client.getSecret({ name: "prod/payroll-db" })).values.username).toBe("payroll_app");
    const elsewhere = await failure(client.getSecret({ name: "staging/other" }), "auth");
    expect(elsewhere.message).toContain("a token created with -no-default-policy lacks auth/token/lookup-self");
    expect((await failure(client.health(), "auth")).message).toContain("If it lives, give it the default policy");
  });
});

describe("HashiCorp Vault provider: the mount", () => {
  it("takes a path inside a mount for a mistake, and says which mount holds it", async () => {
    const error = await failure(makeClient({ mount: "secret/prod", kvVersion: "auto" }).getSecret({ name: "payroll-db" }), "config");
    expect(error.message).toContain("“secret/prod/” is not a mount but a path inside the mount “secret/”");
  });
});

describe("HashiCorp Vault provider: faults", () => {
  it("honours Retry-After on 429 before trying again", async () => {
    emu.throttle({ times: 1, retryAfterSeconds: 1, pathIncludes: "/secret/data/" });
    const before = emu.requests.length;
    expect((await makeClient({ kvVersion: "2" }).getSecret({ name: "prod/payroll-db" })).values.username).toBe("payroll_app");
    const [first, second] = emu.requests.slice(before).filter((r) => r.path.startsWith("/v1/secret/data/"));
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  it("takes a 429 page from a proxy in front of Vault for throttling, with its Retry-After", async () => {
    emu.inject({ fault: { type: "status", status: 429, body: null, text: "<html><body>Too Many Requests</body></html>", headers: { "retry-after": "30" } }, pathIncludes: "/secret/data/" });
    try {
      expect(await failure(makeClient({ kvVersion: "2" }).getSecret({ name: "prod/payroll-db" }))).toMatchObject({ kind: "throttled", retryAfterSeconds: 30 });
    } finally {
      emu.clearFaults();
    }
  });

  it("gives up on persistent throttling after 3 attempts, as throttled, each a quota window apart when Vault names no wait", async () => {
    // Vault's default: 429 without Retry-After. Backing off by milliseconds would spend all three attempts in one window.
    for (const retryAfterSeconds of [null, 0]) {
      emu.throttle({ times: 10, retryAfterSeconds });
      const before = emu.requests.length;
      expect(await failure(makeClient({ kvVersion: "2" }).getSecret({ name: "prod/payroll-db" }))).toMatchObject({ kind: "throttled", retryAfterSeconds: 1 });
      const attempts = emu.requests.slice(before);
      expect(attempts).toHaveLength(3);
      for (let i = 1; i < attempts.length; i++) expect(attempts[i]!.at - attempts[i - 1]!.at).toBeGreaterThanOrEqual(950);
      emu.clearFaults();
    }
  });

  it("reports a sealed Vault and internal errors as unavailable (after bounded retries), and recovers", async () => {
    emu.seal({ times: 10 });
    expect(await failure(makeClient({ kvVersion: "2" }).getSecret({ name: "prod/payroll-db" }))).toMatchObject({ kind: "unavailable", message: expect.stringContaining("sealed") });
    emu.clearFaults();
    emu.failInternal({ times: 10, status: 502 });
    expect((await failure(approle().health())).kind).toBe("unavailable");
    emu.clearFaults();
    emu.failInternal({ times: 1 });
    expect((await makeClient({ kvVersion: "2" }).getSecret({ name: "prod/payroll-db" })).values.username).toBe("payroll_app");
  });

  it("bounds a hanging Vault by timeoutMs", async () => {
    emu.hang({ times: 1, pathIncludes: "/secret/data/" });
    const started = Date.now();
    const error = await failure(approle({}, SECRET_ID, { timeoutMs: 500 }).getSecret({ name: "prod/payroll-db" }));
    expect(error.kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("reports malformed JSON as bad_response", async () => {
    emu.inject({ fault: { type: "malformed" }, times: 1 });
    expect((await failure(makeClient({ kvVersion: "2" }).getSecret({ name: "prod/payroll-db" }))).kind).toBe("bad_response");
  });
});

describe("HashiCorp Vault provider: injected faults", () => {
  const host = () => `127.0.0.1:${emu.port}`;

  it("a connection reset is a tcp failure naming the host and what to check, not retried", async () => {
    const client = makeClient({ kvVersion: "2" });
    await client.health();
    emu.inject({ fault: { type: "reset" }, pathIncludes: "/secret/data/", times: 1 });
    const before = emu.count("/secret/data/");
    const error = await failure(client.getSecret({ name: "prod/payroll-db" }), "tcp");
    expect(error.message).toBe(`The connection to ${host()} was reset. Check proxies and firewalls between Latch and the store.`);
    expect(emu.count("/secret/data/") - before).toBe(1);
  });

  it("a body that is not JSON is bad_response, pointing at the address", async () => {
    emu.inject({ fault: { type: "malformed" }, pathIncludes: "/secret/data/", times: 1 });
    const error = await failure(makeClient({ kvVersion: "2" }).getSecret({ name: "prod/payroll-db" }), "bad_response");
    expect(error.message).toBe(`${host()} answered with something other than JSON (HTTP 200). Check that the address points at Vault's API (usually port 8200).`);
  });

  it("latency below the timeout is waited for; above it, the call ends as a timeout at about the timeout", async () => {
    emu.inject({ fault: { type: "latency", ms: 400 }, pathIncludes: "/secret/data/" });
    let started = Date.now();
    expect((await makeClient({ kvVersion: "2" }, { token }, { timeoutMs: 2000 }).getSecret({ name: "prod/payroll-db" })).values.username).toBe("payroll_app");
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);

    emu.clearFaults();
    emu.inject({ fault: { type: "latency", ms: 3000 }, pathIncludes: "/secret/data/" });
    started = Date.now();
    const error = await failure(makeClient({ kvVersion: "2" }, { token }, { timeoutMs: 500 }).getSecret({ name: "prod/payroll-db" }), "timeout");
    expect(error.message).toBe(`${host()} did not answer in time.`);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("faults set through the emulator's HTTP control API apply, and clear", async () => {
    const post = await fetch(`${emu.controlUrl}/_control/faults`, { method: "POST", body: JSON.stringify({ fault: { type: "status", status: 502, body: { errors: ["proxy error"] } }, pathIncludes: "/secret/data/", times: 3 }) });
    expect(post.status).toBe(204);
    const before = emu.count("/secret/data/");
    expect((await failure(makeClient({ kvVersion: "2" }).getSecret({ name: "prod/payroll-db" }), "unavailable")).message).toContain("HTTP 502");
    expect(emu.count("/secret/data/") - before).toBe(3);

    await fetch(`${emu.controlUrl}/_control/faults`, { method: "POST", body: JSON.stringify({ fault: { type: "reset" } }) });
    await failure(makeClient({ kvVersion: "2" }).getSecret({ name: "prod/payroll-db" }), "tcp");
    expect((await fetch(`${emu.controlUrl}/_control/faults`, { method: "DELETE" })).status).toBe(204);
    expect((await makeClient({ kvVersion: "2" }).getSecret({ name: "prod/payroll-db" })).values.username).toBe("payroll_app");
  });
});

describe("HashiCorp Vault provider: network policy", () => {
  it("refuses the emulator's certificate without its CA, or with another CA", async () => {
    for (const caBundle of [undefined, pki.otherCaCert]) {
      expect((await failure(makeClient({}, { token }, { caBundle }).getSecret({ name: "prod/payroll-db" }))).kind).toBe("tls_untrusted");
    }
  });

  it("names the address's host as the one it dials", () => {
    expect(makeClient().host).toBe(`127.0.0.1:${emu.port}`);
  });

  it("a host name that does not resolve is a dns failure naming it", async () => {
    const error = await failure(makeClient({ address: "https://vault.no-such-zone.invalid:8200" }).health(), "dns");
    expect(error.message).toBe(`The host name vault.no-such-zone.invalid could not be resolved. Check the spelling of the address, and that Latch's DNS can resolve it (private zones, split DNS).`);
  });

  it("a certificate issued for another host name is refused, naming both", async () => {
    const misnamed: Emulator = await startMisnamedServer(pki);
    try {
      const error = await failure(makeClient({ address: misnamed.url }).health(), "tls_hostname");
      expect(error.message).toBe(`The TLS certificate of ${misnamed.url.slice(8)} is for a different host name (it names store.elsewhere.test). Use the address the certificate was issued for, or have the certificate reissued to include 127.0.0.1.`);
      expect(misnamed.requests).toHaveLength(0);
    } finally {
      await misnamed.close();
    }
  });

  it("refuses metadata addresses and plain http before dialling", async () => {
    expect((await failure(makeClient({ address: "https://169.254.169.254:8200" }).health())).kind).toBe("egress_denied");
    expect((await failure(makeClient({ address: `http://127.0.0.1:${emu.port}` }).health())).kind).toBe("egress_denied");
  });
});

describe("HashiCorp Vault provider: token lifecycle and edge cases", () => {
  it("AppRole logs in again when its token expires; an expired static token is an auth error", async () => {
    const client = approle();
    await client.getSecret({ name: "prod/payroll-db" });
    const before = logins();
    const mine = emu.issuedTokens().filter((t) => t.path === "auth/approle/login").at(-1)!;
    expect(emu.expireTokens({ token: mine.id })).toBe(1);
    expect((await client.getSecret({ name: "prod/payroll-db" })).values.password).toBe(VALUES.password);
    expect(logins() - before).toBe(1);

    const own = emu.createToken({ ttlSeconds: 600 });
    const tokenClient = makeClient({ kvVersion: "2" }, { token: own });
    await tokenClient.getSecret({ name: "prod/payroll-db" });
    emu.expireTokens({ token: own });
    expect(await failure(tokenClient.getSecret({ name: "prod/payroll-db" }))).toMatchObject({ kind: "auth", message: expect.stringContaining("expired") });
    expect(logins() - before).toBe(1);
  });

  it("shares one login between concurrent calls", async () => {
    const client = approle({ kvVersion: "2" });
    const before = logins();
    const reads = await Promise.all(Array.from({ length: 5 }, () => client.getSecret({ name: "prod/payroll-db" })));
    expect(reads.every((r) => r.values.username === "payroll_app")).toBe(true);
    expect(logins() - before).toBe(1);
  });

  it("revokes the token it logged in for when closed", async () => {
    const client = approle({ kvVersion: "2" });
    await client.getSecret({ name: "prod/payroll-db" });
    const mine = emu.issuedTokens().filter((t) => t.path === "auth/approle/login").at(-1)!;
    expect(mine.dead).toBe(false);
    await client.close!();
    expect(emu.requests.at(-1)).toMatchObject({ method: "POST", path: "/v1/auth/token/revoke-self" });
    expect(emu.issuedTokens().find((t) => t.id === mine.id)!.dead).toBe(true);
  });

  it.each([
    ["without rate-limit headers (Vault's default)", false],
    ["with rate-limit headers, whose Retry-After rounds down to 0 in the last second", true],
  ])("waits out a rate-limit quota window %s and then succeeds", async (_, responseHeaders) => {
    const client = makeClient({ kvVersion: "2" });
    await client.getSecret({ name: "prod/payroll-db" });
    emu.setRateLimit({ rate: 1, intervalSeconds: 1, pathIncludes: "/secret/data/", responseHeaders });
    try {
      const before = emu.requests.length;
      await client.getSecret({ name: "prod/payroll-db" });
      await client.getSecret({ name: "prod/payroll-db" });
      // One read inside the window, one refused with 429, and its retry once the window has passed. On a
      // loaded machine a slow first read may be retried after a timeout too, so count at least three.
      const reads = emu.requests.slice(before);
      expect(reads.length).toBeGreaterThanOrEqual(3);
      expect(new Set(reads.map((r) => r.path))).toEqual(new Set(["/v1/secret/data/prod/payroll-db"]));
      expect(reads.at(-1)!.at - reads[1]!.at).toBeGreaterThanOrEqual(990);
    } finally {
      emu.setRateLimit(null);
    }
  });

  it("does not retry sooner than a long Retry-After: reports throttled at once", async () => {
    // A path of its own: a late request of an earlier test (a retry after a timeout, on a loaded
    // machine) must not take the one-time throttle meant for this read.
    const name = `prod/throttled-${randomUUID().slice(0, 8)}`;
    emu.seedSecret({ path: name, data: { value: "x" } });
    emu.throttle({ times: 1, retryAfterSeconds: 30, pathIncludes: `/secret/data/${name}` });
    const before = emu.count(`/secret/data/${name}`);
    const started = Date.now();
    expect(await failure(makeClient({ kvVersion: "2" }).getSecret({ name }))).toMatchObject({
      kind: "throttled",
      retryAfterSeconds: 30,
      message: expect.stringContaining("asked Latch to wait 30 s before trying again"),
    });
    expect(emu.count(`/secret/data/${name}`) - before).toBe(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("writes to a mount that requires check-and-set", async () => {
    emu.mountKv({ path: "cas-kv", version: 2, casRequired: true });
    const client = makeClient({ mount: "cas-kv" });
    expect(await client.putSecret!({ name: "app/cas" }, { value: "one" })).toEqual({ version: "1" });
    expect(await client.putSecret!({ name: "app/cas" }, { value: "two" })).toEqual({ version: "2" });
    const writes = emu.requests.filter((r) => r.method === "POST" && r.path === "/v1/cas-kv/data/app/cas").map((r) => JSON.parse(r.body) as unknown);
    expect(writes).toEqual([{ data: { value: "one" } }, { data: { value: "one" }, options: { cas: 0 } }, { data: { value: "two" } }, { data: { value: "two" }, options: { cas: 1 } }]);
    expect((await client.getSecret({ name: "app/cas" })).values.value).toBe("two");
  });

  it("reports a KV version set by hand that does not match the mount", async () => {
    expect(await failure(makeClient({ kvVersion: "1" }).health())).toMatchObject({ kind: "config", message: expect.stringContaining("is KV version 2") });
    expect(await failure(makeClient({ kvVersion: "1" }).getSecret({ name: "prod/payroll-db" }))).toMatchObject({ kind: "config", message: expect.stringContaining("not KV version 1") });
    expect((await failure(makeClient({ mount: "kv", kvVersion: "2" }).health())).kind).toBe("config");
    await expect(makeClient({ mount: "kv", kvVersion: "1" }).health()).resolves.toBeUndefined();
  });
});

describe("HashiCorp Vault emulator: namespaces and policies", () => {
  it("accepts the namespace as a path prefix, and enforces policies per path", async () => {
    emu.seedSecret({ namespace: "team-p", path: "x/one", data: { value: "p1" } });
    const { Agent, fetch: uf } = await import("undici");
    const dispatcher = new Agent({ connect: { ca: pki.caCert } });
    const get = async (path: string, tokenId: string, headers: Record<string, string> = {}) => (await uf(`${emu.url}/v1/${path}`, { headers: { "x-vault-token": tokenId, ...headers }, dispatcher })).status;
    expect(await get("team-p/secret/data/x/one", emu.rootToken)).toBe(200);
    expect(await get("secret/data/x/one", emu.rootToken, { "x-vault-namespace": "team-p" })).toBe(200);
    expect(await get("secret/data/x/one", emu.rootToken)).toBe(404);
    emu.writePolicy({ namespace: "team-p", name: "reader", rules: { "secret/data/x/*": ["read"], "secret/data/x/secret-*": ["deny"] } });
    const reader = emu.createToken({ namespace: "team-p", policies: ["reader"] });
    expect(await get("secret/data/x/one", reader, { "x-vault-namespace": "team-p" })).toBe(200);
    expect(await get("secret/data/x/secret-two", reader, { "x-vault-namespace": "team-p" })).toBe(403);
    expect(await get("secret/metadata/x/one", reader, { "x-vault-namespace": "team-p" })).toBe(403);
    expect(await get("secret/data/x/one", reader)).toBe(403);
    await dispatcher.close();
  });

  it("speaks KV v2 delete/undelete/destroy and merge-patch, AppRole secret-id limits and sealing over HTTP", async () => {
    const { Agent, fetch: uf } = await import("undici");
    const dispatcher = new Agent({ connect: { ca: pki.caCert } });
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await uf(`${emu.url}/v1/${path}`, { method, headers: { "x-vault-token": emu.rootToken, ...headers }, dispatcher, ...(body ? { body: JSON.stringify(body) } : {}) });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : null };
    };
    expect((await call("POST", "secret/data/http/one", { data: { a: "1" } })).body!.data.version).toBe(1);
    expect((await call("POST", "secret/data/http/one", { data: { a: "2" }, options: { cas: 0 } })).status).toBe(400);
    expect((await call("PATCH", "secret/data/http/one", { data: { b: "x" } }, { "content-type": "application/merge-patch+json" })).body!.data.version).toBe(2);
    expect((await call("GET", "secret/data/http/one")).body!.data.data).toEqual({ a: "1", b: "x" });
    expect((await call("POST", "secret/delete/http/one", { versions: [2] })).status).toBe(204);
    const deleted = await call("GET", "secret/data/http/one");
    expect(deleted.status).toBe(404);
    expect(deleted.body!.data).toMatchObject({ data: null, metadata: { version: 2, destroyed: false, deletion_time: expect.stringMatching(/^\d{4}-.*\.\d{9}Z$/) } });
    expect((await call("POST", "secret/undelete/http/one", { versions: [2] })).status).toBe(204);
    expect((await call("GET", "secret/data/http/one")).status).toBe(200);
    expect((await call("PUT", "secret/destroy/http/one", { versions: [1] })).status).toBe(204);
    expect((await call("GET", "secret/data/http/one?version=1")).body!.data.metadata).toMatchObject({ destroyed: true });
    expect(await call("GET", "secret/data/http/none")).toEqual({ status: 404, body: { errors: [] } });
    expect((await call("GET", "secret/http/one")).body!.warnings[0]).toMatch(/versioned K\/V/);

    const { roleId, secretId } = emu.createAppRole({ name: "once", secretIdNumUses: 1 });
    expect((await call("POST", "auth/approle/login", { role_id: roleId, secret_id: secretId }, {})).body!.auth).toMatchObject({ renewable: true, lease_duration: 3600, metadata: { role_name: "once" } });
    expect(await call("POST", "auth/approle/login", { role_id: roleId, secret_id: secretId })).toEqual({ status: 400, body: { errors: ["invalid role or secret ID"] } });
    expect((await call("GET", "auth/approle/role/once/role-id")).body!.data.role_id).toBe(roleId);

    emu.setSealed(true);
    try {
      expect((await call("GET", "sys/health")).body).toMatchObject({ sealed: true });
      expect(await call("GET", "secret/data/http/one")).toEqual({ status: 503, body: { errors: ["Vault is sealed"] } });
    } finally {
      emu.setSealed(false);
    }
    await dispatcher.close();
  });
});

describe("HashiCorp Vault provider: configuration", () => {
  it("validates the form: https address, role ID for AppRole, username for userpass; defaults", () => {
    const ok = hashicorpConfigSchema.parse({ address: "https://vault.example.com:8200/", namespace: " ", roleId: "" });
    expect(ok).toEqual({ address: "https://vault.example.com:8200", mount: "secret", kvVersion: "auto", auth: "token", approleMount: "approle", userpassMount: "userpass" });
    expect(hashicorpConfigSchema.parse(ok)).toEqual(ok);
    expect(hashicorpConfigSchema.safeParse({ address: "https://v", auth: "approle" }).error?.issues[0]?.path).toEqual(["roleId"]);
    expect(hashicorpConfigSchema.safeParse({ address: "https://v", auth: "userpass" }).error?.issues[0]?.path).toEqual(["username"]);
    expect(hashicorpConfigSchema.safeParse({ address: "vault.example.com" }).success).toBe(false);
    expect(hashicorpConfigSchema.safeParse({ address: "https://v", mount: "a b" }).success).toBe(false);
    // A . or .. segment would be resolved by the URL parser: the token would go to another path of a gateway.
    for (const field of ["mount", "namespace", "approleMount", "userpassMount"]) {
      for (const bad of ["..", "../../other", "kv/..", "team/./kv"]) expect(hashicorpConfigSchema.safeParse({ address: "https://v", [field]: bad }).success, `${field}: ${bad}`).toBe(false);
    }
    expect(hashicorpConfigSchema.parse({ address: "https://v", mount: "team.kv/.v2", namespace: "admin/team-a" })).toMatchObject({ mount: "team.kv/.v2", namespace: "admin/team-a" });
    const names = hashicorpProvider.fields.map((f) => f.name);
    expect(new Set(names)).toEqual(new Set([...Object.keys(hashicorpConfigSchema.shape), ...Object.keys(hashicorpProvider.secretSchema.shape)]));
    expect(hashicorpProvider.fields.filter((f) => f.secret).map((f) => f.name).sort()).toEqual(["password", "secretId", "token"]);
  });

  it("describes the demo data set so it can be registered as shown (fresh emulator, least-privilege policy)", async () => {
    const fresh = await startHashicorpEmulator({ pki });
    try {
      const demo = seedDemoHashicorp(fresh);
      const make = () =>
        hashicorpProvider.create({
          storeId: "demo",
          config: hashicorpConfigSchema.parse(demo.storeConfig),
          secrets: hashicorpProvider.secretSchema.parse(demo.storeSecrets),
          common: { caBundle: pki.caCert, timeoutMs: 3000 },
        });
      const client = make();
      clients.push(client);
      expect((await client.getSecret({ name: "prod/payroll-db" })).values).toEqual({ username: "payroll_app", password: "demo-Payr0ll-pass-2" });
      expect((await client.getSecret({ name: "prod/payroll-db", version: "1" })).values.password).toBe("demo-Payr0ll-pass-1");
      expect((await client.getSecret({ name: "prod/crm-api-key" })).values).toEqual({ value: "demo-crm-api-key-123" });
      expect(await exerciseStore(make(), { mode: "READ_WRITE", host: new URL(fresh.url).host })).toMatchObject({ ok: true });
      expect(demo.instructions).toContain(fresh.url);
      expect(demo.instructions).toContain(fresh.controlUrl);
    } finally {
      await Promise.all(clients.splice(0).flatMap((c) => c.close?.() ?? []));
      await fresh.close();
    }
  });
});

describe("HashiCorp Vault emulator: control API and fidelity", () => {
  it("offers seeding, deletion, tokens, TTLs and auth registration over HTTP", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${emu.controlUrl}/_control/${path}`, { method: "POST", body: JSON.stringify(body) }).then((r) => r.json() as Promise<Record<string, unknown>>);
    expect(await post("secrets", { path: "ctl/one", data: { a: "1" } })).toEqual({ version: 1 });
    expect(await post("secrets/rotate", { path: "ctl/one", data: { a: "2" } })).toEqual({ version: 2 });
    const { token: ctlToken } = (await post("tokens", { ttlSeconds: 60 })) as { token: string };
    const client = makeClient({}, { token: ctlToken });
    expect((await client.getSecret({ name: "ctl/one" })).values.a).toBe("2");
    await post("secrets/delete", { path: "ctl/one" });
    expect((await failure(client.getSecret({ name: "ctl/one" }))).kind).toBe("deleted");
    await post("tokens/ttl", { token: ctlToken, ttlSeconds: 0 });
    expect((await failure(client.health())).kind).toBe("auth");
    await post("approles", { roleName: "ctl", roleId: "ctl-role", secretId: "ctl-secret-id" });
    await post("userpass", { username: "ctl-user", password: "ctl-password" });
    await expect(makeClient({ auth: "approle", roleId: "ctl-role" }, { secretId: "ctl-secret-id" }).health()).resolves.toBeUndefined();
    await expect(makeClient({ auth: "userpass", username: "ctl-user" }, { password: "ctl-password" }).health()).resolves.toBeUndefined();
    expect(await post("tokens/revoke", {})).toMatchObject({ revoked: expect.any(Number) });
  });

  it("answers lookup-self, renew-self (capped at max TTL), revoke-self, ?list=true and Bearer auth like Vault", async () => {
    const t = emu.createToken({ ttlSeconds: 10, maxTtlSeconds: 20 });
    const client = makeClient({}, { token: t });
    await client.health();
    expect(emu.count("/auth/token/lookup-self")).toBeGreaterThan(0);
    const { Agent, fetch: uf } = await import("undici");
    const dispatcher = new Agent({ connect: { ca: pki.caCert } });
    const req = async (method: string, path: string, body?: unknown, headers: Record<string, string> = { "x-vault-token": t }) => {
      const res = await uf(`${emu.url}/v1/${path}`, { method, headers, dispatcher, ...(body ? { body: JSON.stringify(body) } : {}) });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : null };
    };
    const lookup = await req("GET", "auth/token/lookup-self", undefined, { authorization: `Bearer ${t}` });
    expect(lookup.body!.data).toMatchObject({ id: t, renewable: true, type: "service" });
    const renewed = await req("POST", "auth/token/renew-self", { increment: "1h" });
    expect(renewed.body!.auth.lease_duration).toBeLessThanOrEqual(20);
    expect(renewed.body!.warnings).toHaveLength(1);
    emu.seedSecret({ path: "list/a", data: { v: 1 } });
    emu.seedSecret({ path: "list/sub/b", data: { v: 1 } });
    expect((await req("GET", "secret/metadata/list?list=true")).body!.data.keys).toEqual(["a", "sub/"]);
    expect((await req("GET", "secret/metadata/list/a")).body!.data).toMatchObject({ current_version: 1, versions: { "1": { destroyed: false } } });
    expect((await req("GET", "sys/internal/ui/mounts/kv")).body!.data).toMatchObject({ type: "kv", options: null, path: "kv/" });
    expect((await req("POST", "auth/token/revoke-self")).status).toBe(204);
    expect(await req("GET", "auth/token/lookup-self")).toEqual({ status: 403, body: { errors: ["permission denied"] } });
    await dispatcher.close();
  });
});

describe("HashiCorp Vault provider: no secrets in messages", () => {
  it("never puts a token, secret id, password or secret value into an error message", () => {
    expect(messages.length).toBeGreaterThan(20);
    const forbidden = [SECRET_ID, PASSWORD, "wrong-secret-id-value", "wrong-password-123", "team-a-secret-id", "narrow-secret-id", ...Object.values(VALUES), "ftp-pass"];
    for (const t of emu.issuedTokens()) forbidden.push(t.id);
    for (const message of messages) for (const secret of forbidden) expect(message).not.toContain(secret);
  });
});
