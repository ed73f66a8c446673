import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { generateClientCertificate } from "@/lib/vault/providers/azure/certificate";
import { makeFolder, makeUser, signInAs, whileRefusingInserts } from "@/test/fixtures";
import { startHashicorpEmulator, type HashicorpEmulator } from "@/test/emulators/hashicorp";
import { createTestPki, type TestPki } from "@/test/emulators/tls";
import { whileAnotherSession } from "@/test/races";
import { createStoreAction, deleteStoreAction, testDraftStoreAction, testStoreAction, updateStoreAction } from "./actions";
import { StoreError } from "@/lib/vault/errors";
import { openStoreSecrets, withStoreClient } from "./client";
import { getStoreViewOrThrow } from "./queries";

vi.mock("@/lib/auth/session", () => import("@/test/mocks/session"));
vi.mock("@/lib/request-context", () => import("@/test/mocks/request-context"));
const flags = vi.hoisted(() => ({ allowHttp: false }));
vi.mock("@/lib/env", async (importOriginal) => {
  const real = await importOriginal<typeof import("@/lib/env")>();
  return { ...real, env: () => ({ ...real.env(), LATCH_DEV_ALLOW_HTTP_STORES: flags.allowHttp }) };
});

type Result = { ok: boolean; data?: unknown; error?: { code: string; message: string; fieldErrors?: Record<string, string[]> } };
function ok<T>(result: { ok: true; data: T } | { ok: false; error: unknown }): T {
  if (!result.ok) throw new Error(`expected success, got ${JSON.stringify(result.error)}`);
  return result.data;
}
const fieldError = (result: Result, key: string) => result.error?.fieldErrors?.[key]?.[0];

let admin: Actor;
let pki: TestPki;
let vault: HashicorpEmulator;
let elsewhere: HashicorpEmulator;
let token: string;
const tag = () => randomUUID().slice(0, 8);

beforeAll(async () => {
  admin = await makeUser({ isAdmin: true });
  pki = createTestPki();
  vault = await startHashicorpEmulator({ pki });
  // Another Vault, as an address an admin (or someone with an admin's session) might point a store at.
  elsewhere = await startHashicorpEmulator({ pki });
  token = vault.createToken({ ttlSeconds: 3600 });
});

afterAll(async () => {
  await Promise.all([vault?.close(), elsewhere?.close()]);
});

beforeEach(() => {
  signInAs(admin);
  flags.allowHttp = false;
});

function vaultInput(over: { config?: Record<string, unknown>; secrets?: Record<string, unknown>; name?: string } = {}) {
  return {
    name: over.name ?? `Vault ${tag()}`,
    kind: "hashicorp" as const,
    mode: "READ_WRITE" as const,
    config: { address: vault.url, kvVersion: "2", auth: "token", ...over.config },
    secrets: { token, ...over.secrets },
    caBundle: pki.caCert,
    timeoutMs: 5000,
  };
}

/** What the edit form sends back for a saved store: its settings, no secrets. */
async function editOf(storeId: string, over: { config?: Record<string, unknown>; secrets?: Record<string, unknown>; removeSecrets?: string[]; timeoutMs?: number } = {}) {
  const view = await getStoreViewOrThrow(admin, storeId);
  return {
    storeId,
    name: view.name,
    folderId: view.folder?.id ?? null,
    mode: view.mode,
    caBundle: view.caBundle,
    probeSecret: view.probeSecret,
    timeoutMs: over.timeoutMs ?? view.timeoutMs,
    config: { ...view.config, ...over.config },
    secrets: over.secrets ?? {},
    removeSecrets: over.removeSecrets ?? [],
  };
}

const rawSecrets = async (storeId: string) => openStoreSecrets(await db().credentialStore.findUniqueOrThrow({ where: { id: storeId } }));

describe("validation messages, through the action", () => {
  it("refuses an http:// store address unless the development flag is set", async () => {
    const input = vaultInput({ config: { address: "http://vault.internal:8200" } });
    const refused = await createStoreAction(input);
    expect(refused).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(fieldError(refused as Result, "config.address")).toBe("Use an https:// address: Latch sends a store its credentials only over TLS.");
    expect(await db().credentialStore.count({ where: { name: input.name } })).toBe(0);

    flags.allowHttp = true;
    expect(env().LATCH_DEV_ALLOW_HTTP_STORES).toBe(true);
    ok(await createStoreAction(input));
  });

  it("a scope folder that is not a folder is a field error on save, edit and draft test, never a 500", async () => {
    const before = await db().credentialStore.count();
    for (const folderId of ["", "not-a-uuid", randomUUID()]) {
      for (const result of [await createStoreAction({ ...vaultInput(), folderId }), await testDraftStoreAction({ ...vaultInput(), folderId, storeId: null })]) {
        expect(result).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { folderId: ["Choose an existing folder."] } } });
      }
    }
    const saved = ok(await createStoreAction(vaultInput()));
    expect(await updateStoreAction({ ...(await editOf(saved.id)), folderId: "" })).toMatchObject({ ok: false, error: { code: "VALIDATION", fieldErrors: { folderId: ["Choose an existing folder."] } } });
    expect(await db().credentialStore.count()).toBe(before + 1);
    // A real folder and tenant-wide (null) still do.
    const folder = await makeFolder();
    expect(await testDraftStoreAction({ ...vaultInput(), folderId: folder.id, storeId: null })).toMatchObject({ ok: true, data: { ok: true } });
    ok(await createStoreAction({ ...vaultInput(), folderId: folder.id }));
  });

  it("refuses a CA bundle with a certificate that cannot be read, naming which", async () => {
    const broken = "-----BEGIN CERTIFICATE-----\nMIIBnotreallyacertificate\n-----END CERTIFICATE-----";
    const result = (await createStoreAction({ ...vaultInput(), caBundle: `${pki.caCert}\n${broken}` })) as Result;
    expect(result).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(fieldError(result, "caBundle")).toMatch(/Certificate 2 of 2 in the CA bundle cannot be read/);
  });

  it("refuses a duplicate name, whatever its case", async () => {
    const first = ok(await createStoreAction(vaultInput()));
    const clash = await createStoreAction(vaultInput({ name: first.name.toUpperCase() }));
    expect(clash).toMatchObject({ ok: false, error: { code: "CONFLICT", message: `A store named “${first.name.toUpperCase()}” already exists.` } });
    expect(fieldError(clash as Result, "name")).toMatch(/already exists/);
  });

  it("names a missing required field, including one required only by the chosen sign-in method", async () => {
    const noAddress = (await createStoreAction({ ...vaultInput(), config: { auth: "token" } })) as Result;
    expect(noAddress).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(fieldError(noAddress, "config.address")).toMatch(/Enter Vault's full address/);
    // Everything missing is named in one pass: the address and the token together.
    const nothing = (await createStoreAction({ ...vaultInput(), config: { auth: "token" }, secrets: {} })) as Result;
    expect(fieldError(nothing, "config.address")).toMatch(/Enter Vault's full address/);
    expect(fieldError(nothing, "secrets.token")).toBeTruthy();

    const noSecretId = (await createStoreAction(vaultInput({ config: { auth: "approle", roleId: "role-1" }, secrets: { token: undefined } }))) as Result;
    expect(fieldError(noSecretId, "secrets.secretId")).toBe("Enter the secret ID of the AppRole Latch logs in with.");

    const noKey = (await createStoreAction({ name: `AWS ${tag()}`, kind: "aws", mode: "READ_ONLY", config: { region: "eu-west-1" }, secrets: {} })) as Result;
    expect(fieldError(noKey, "config.accessKeyId")).toBe("Enter the access key ID.");
    expect(fieldError(noKey, "secrets.secretAccessKey")).toMatch(/Paste the secret access key/);
  });

  it("an empty form is refused with every missing field at once: the name and the kind's settings, for save and for a new store's test", async () => {
    for (const action of [createStoreAction, testDraftStoreAction]) {
      const empty = (await action({ name: "", kind: "hashicorp", mode: "READ_ONLY", config: { auth: "token" }, secrets: {} })) as Result;
      expect(empty).toMatchObject({ ok: false, error: { code: "VALIDATION", message: "Enter a name." } });
      expect(Object.keys(empty.error!.fieldErrors!)).toEqual(["name", "config.address", "secrets.token"]);
      expect(fieldError(empty, "config.address")).toMatch(/Enter Vault's full address/);
      const aws = (await action({ name: "", kind: "aws", mode: "READ_ONLY", config: {}, secrets: {} })) as Result;
      expect(Object.keys(aws.error!.fieldErrors!)).toEqual(expect.arrayContaining(["name", "config.region", "config.accessKeyId", "secrets.secretAccessKey"]));
    }
    // A saved store's test keeps its stored secrets, which a refused draft cannot see: only what the schema says.
    const saved = ok(await createStoreAction(vaultInput()));
    const draft = (await testDraftStoreAction({ ...vaultInput({ name: "" }), storeId: (saved as { id: string }).id, secrets: {} })) as Result;
    expect(Object.keys(draft.error!.fieldErrors!)).toEqual(["name"]);
  });

  it("a certificate whose private key is not its own is a field error at save time, not a 500", async () => {
    const a = generateClientCertificate({ commonName: "a" });
    const b = generateClientCertificate({ commonName: "b" });
    const result = (await createStoreAction({
      name: `Azure ${tag()}`,
      kind: "azure",
      mode: "READ_ONLY",
      config: { vault: "contoso-prod", tenantId: randomUUID(), clientId: randomUUID(), auth: "certificate" },
      secrets: { certificatePem: `${a.certificatePem}${b.privateKeyPem}` },
    })) as Result;
    expect(result).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(fieldError(result, "secrets.certificatePem")).toMatch(/private key does not belong to the certificate/);
    expect(JSON.stringify(result)).not.toContain("PRIVATE KEY");
  });
});

describe("announcing a change to the other instances", () => {
  it("a store change that cannot be announced is not made: no instance keeps values read with the old settings while the rest use the new", async () => {
    const { id } = ok(await createStoreAction(vaultInput()));
    const before = await db().credentialStore.findUniqueOrThrow({ where: { id } });
    const failed = await whileRefusingInserts("refresh_events", "true", async () => updateStoreAction(await editOf(id, { timeoutMs: before.timeoutMs + 1000 })));
    expect(failed).toMatchObject({ ok: false });
    expect(await db().credentialStore.findUniqueOrThrow({ where: { id } })).toMatchObject({ timeoutMs: before.timeoutMs, updatedAt: before.updatedAt });
    expect(await db().auditEvent.count({ where: { targetId: id, action: "store.update", outcome: "SUCCESS" } })).toBe(0);
    // Made, it is announced with it.
    ok(await updateStoreAction(await editOf(id, { timeoutMs: before.timeoutMs + 1000 })));
    expect(await db().$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM refresh_events WHERE kind = 'store' AND target_id = ${id}::uuid`).toEqual([{ n: 1 }]);
  });
});

describe("write-only settings", () => {
  it("keeps only what the provider's schema knows: unknown keys are neither sealed nor listed as set", async () => {
    const { id } = ok(await createStoreAction(vaultInput({ secrets: { bogus: "not-a-setting-value", certificatePem: "also-not-this-kind" } })));
    expect(Object.keys(await rawSecrets(id))).toEqual(["token"]);
    expect((await getStoreViewOrThrow(admin, id)).secretsSet).toEqual(["token"]);
    ok(await updateStoreAction(await editOf(id, { secrets: { sneaky: "x".repeat(20) } })));
    expect(Object.keys(await rawSecrets(id))).toEqual(["token"]);
  });

  it("refuses a proxy URL whose password is not valid percent-encoding, naming the fix", async () => {
    const refused = (await createStoreAction(vaultInput({ secrets: { proxyUrl: "http://user:p%ss@proxy.internal:3128" } }))) as Result;
    expect(refused).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(fieldError(refused, "secrets.proxyUrl")).toMatch(/has a % that does not start an escape: write % as %25/);
    ok(await createStoreAction(vaultInput({ secrets: { proxyUrl: "http://user:p%25ss@proxy.internal:3128" } })));
  });

  it("an optional stored secret can be removed; a required one cannot (it is replaced instead)", async () => {
    const { id } = ok(await createStoreAction(vaultInput({ secrets: { proxyUrl: "http://user:proxy-pass-123@proxy.internal:3128" } })));
    expect((await getStoreViewOrThrow(admin, id)).secretsSet.sort()).toEqual(["proxyUrl", "token"]);

    const refused = (await updateStoreAction(await editOf(id, { removeSecrets: ["token"] }))) as Result;
    expect(refused).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(fieldError(refused, "secrets.token")).toBe("Token is required: replace it rather than removing it.");

    ok(await updateStoreAction(await editOf(id, { removeSecrets: ["proxyUrl"] })));
    expect(await rawSecrets(id)).toEqual({ token });
    const audit = await db().auditEvent.findFirstOrThrow({ where: { action: "store.update", targetId: id }, orderBy: { occurredAt: "desc" } });
    expect(audit.details).toMatchObject({ writeOnlyFieldsRemoved: ["proxyUrl"], writeOnlyFieldsReplaced: [] });
  });

  it("Azure's optional key password can be removed while the certificate stays", async () => {
    const cert = generateClientCertificate({ commonName: "latch" });
    const { id } = ok(
      await createStoreAction({
        name: `Azure ${tag()}`,
        kind: "azure",
        mode: "READ_ONLY",
        config: { vault: "contoso-prod", tenantId: randomUUID(), clientId: randomUUID(), auth: "certificate" },
        secrets: { certificatePem: cert.credentialPem, certificatePassword: "unused-password" },
      }),
    );
    ok(await updateStoreAction(await editOf(id, { removeSecrets: ["certificatePassword"] })));
    expect(Object.keys(await rawSecrets(id))).toEqual(["certificatePem"]);
  });
});

describe("a changed address never receives stored secrets", () => {
  it("Vault: saving or testing with a new address asks for the token again, and nothing reaches the new address", async () => {
    const { id } = ok(await createStoreAction(vaultInput()));
    const before = elsewhere.requests.length;

    const save = (await updateStoreAction(await editOf(id, { config: { address: elsewhere.url } }))) as Result;
    expect(save).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
    expect(fieldError(save, "secrets.token")).toBe("The Vault address changed: enter Token again. Latch never sends a stored secret to a new address.");

    const draft = (await testDraftStoreAction({ ...vaultInput(), secrets: {}, storeId: id, config: { address: elsewhere.url, kvVersion: "2", auth: "token" } })) as Result;
    expect(fieldError(draft, "secrets.token")).toMatch(/The Vault address changed/);
    expect(elsewhere.requests.length).toBe(before);
    expect(await rawSecrets(id)).toEqual({ token });

    // The same address written differently is no change; a new address with the token entered again saves.
    ok(await updateStoreAction(await editOf(id, { config: { address: `${vault.url}/` }, timeoutMs: 6000 })));
    const otherToken = elsewhere.createToken({ ttlSeconds: 3600 });
    ok(await updateStoreAction(await editOf(id, { config: { address: elsewhere.url }, secrets: { token: otherToken } })));
    expect(await rawSecrets(id)).toEqual({ token: otherToken });
    const audit = await db().auditEvent.findFirstOrThrow({ where: { action: "store.update", targetId: id }, orderBy: { occurredAt: "desc" } });
    expect(audit.details).toMatchObject({ addressChanged: true, writeOnlyFieldsReplaced: ["token"] });
  });

  it("a new address drops secrets of other sign-in methods; the proxy (sent only to the proxy) stays", async () => {
    const { id } = ok(await createStoreAction(vaultInput({ secrets: { proxyUrl: "http://proxy.internal:3128" } })));
    // Switch to userpass first: the token stays stored (hidden), as a later switch back may want it.
    ok(await updateStoreAction(await editOf(id, { config: { auth: "userpass", username: "latch" }, secrets: { password: "userpass-password" } })));
    expect(Object.keys(await rawSecrets(id)).sort()).toEqual(["password", "proxyUrl", "token"]);
    ok(await updateStoreAction(await editOf(id, { config: { address: elsewhere.url }, secrets: { password: "new-password" } })));
    expect(await rawSecrets(id)).toEqual({ password: "new-password", proxyUrl: "http://proxy.internal:3128" });
  });

  it("every kind: the fields that send credentials somewhere are the ones that ask for them again", async () => {
    const cases = [
      {
        kind: "azure" as const,
        config: { vault: "https://contoso-prod.vault.azure.net", tenantId: randomUUID(), clientId: randomUUID(), auth: "client_secret" },
        secrets: { clientSecret: "client-secret-value-123" },
        moves: [{ vault: "https://attacker.example.com" }, { authorityHost: "https://login.attacker.example.com" }],
        asked: "secrets.clientSecret",
        label: /The (Key vault|Authority host) changed: enter Client secret again/,
      },
      {
        kind: "aws" as const,
        config: { region: "eu-west-1", accessKeyId: "AKIAIOSFODNN7EXAMPLE" },
        secrets: { secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
        moves: [{ endpoint: "https://secrets.attacker.example.com" }, { auth: "assume_role", roleArn: "arn:aws:iam::123456789012:role/r", stsEndpoint: "https://sts.attacker.example.com" }],
        asked: "secrets.secretAccessKey",
        label: /The (Secrets Manager endpoint|STS endpoint) changed/,
      },
      {
        kind: "cyberark" as const,
        config: { url: "https://ccp.example.com", appId: "Latch", safe: "Finance" },
        secrets: { clientCertificatePem: (() => { const c = pki.issueClient("latch"); return `${c.cert}${c.key}`; })() },
        moves: [{ url: "https://ccp.attacker.example.com" }],
        asked: "secrets.clientCertificatePem",
        label: /The CCP URL changed: enter Client certificate and private key \(PEM\) again/,
      },
    ];
    for (const c of cases) {
      const { id } = ok(await createStoreAction({ name: `${c.kind} ${tag()}`, kind: c.kind, mode: "READ_ONLY", config: c.config, secrets: c.secrets }));
      for (const move of c.moves) {
        const result = (await updateStoreAction(await editOf(id, { config: move }))) as Result;
        expect(result, `${c.kind} ${JSON.stringify(move)}`).toMatchObject({ ok: false, error: { code: "VALIDATION" } });
        expect(fieldError(result, c.asked), c.kind).toMatch(c.label);
      }
      // Anything else (here the timeout) keeps the stored secrets without asking.
      ok(await updateStoreAction(await editOf(id, { timeoutMs: 7000 })));
      expect(await rawSecrets(id)).toEqual(c.secrets);
    }
  });
});

describe("a newly trusted CA is treated like a new address; a new proxy is not", () => {
  it("a CA bundle that gains a certificate asks for the secrets again, for saves and draft tests, before anything is sent", async () => {
    const { id } = ok(await createStoreAction(vaultInput()));
    const rogueCa = createTestPki().caCert;
    const before = vault.requests.length;

    for (const caBundle of [`${pki.caCert}${rogueCa}`, rogueCa]) {
      const save = (await updateStoreAction({ ...(await editOf(id)), caBundle })) as Result;
      expect(fieldError(save, "secrets.token")).toBe("The CA bundle changed: enter Token again. Latch never sends a stored secret under a newly trusted CA.");
      const draft = (await testDraftStoreAction({ ...vaultInput(), secrets: {}, storeId: id, caBundle })) as Result;
      expect(fieldError(draft, "secrets.token")).toMatch(/The CA bundle changed/);
    }
    const both = (await updateStoreAction({ ...(await editOf(id, { config: { address: elsewhere.url } })), caBundle: `${pki.caCert}${rogueCa}` })) as Result;
    expect(fieldError(both, "secrets.token")).toBe("The Vault address and CA bundle changed: enter Token again. Latch never sends a stored secret to a new address or under a newly trusted CA.");
    expect(vault.requests.length).toBe(before);
    expect(await rawSecrets(id)).toEqual({ token });

    // With the token entered again the new bundle saves, and the audit trail says why it was asked for.
    ok(await updateStoreAction({ ...(await editOf(id, { secrets: { token } })), caBundle: `${pki.caCert}${rogueCa}` }));
    const audit = await db().auditEvent.findFirstOrThrow({ where: { action: "store.update", targetId: id }, orderBy: { occurredAt: "desc" } });
    expect(audit.details).toMatchObject({ addressChanged: false, caBundleTrustAdded: true, writeOnlyFieldsReplaced: ["token"] });
  });

  it("the same certificates written differently, or fewer of them, trust nothing new: the secrets stay", async () => {
    const extraCa = createTestPki().caCert;
    const { id } = ok(await createStoreAction({ ...vaultInput(), caBundle: `${pki.caCert}${extraCa}` }));
    const rewrapped = pki.caCert.replace(/\n/g, "\r\n").replace(/([A-Za-z0-9+/=]{32})/, "$1\n");
    ok(await updateStoreAction({ ...(await editOf(id)), caBundle: `# our CA\n${rewrapped}` }));
    ok(await updateStoreAction({ ...(await editOf(id)), caBundle: pki.caCert }));
    expect(await rawSecrets(id)).toEqual({ token });
    expect(ok(await testStoreAction({ storeId: id }))).toMatchObject({ ok: true });
  });

  it("a new egress proxy keeps the stored secrets: they pass it inside TLS, checked against the same trust", async () => {
    const { id } = ok(await createStoreAction(vaultInput({ secrets: { proxyUrl: "http://proxy-a.internal:3128" } })));
    ok(await updateStoreAction(await editOf(id, { secrets: { proxyUrl: "http://proxy-b.internal:3128" } })));
    ok(await updateStoreAction(await editOf(id, { removeSecrets: ["proxyUrl"] })));
    expect(await rawSecrets(id)).toEqual({ token });
  });

  it("Azure: a vault name and its URL are one address; another vault is not", async () => {
    const config = { vault: "contoso-prod", tenantId: randomUUID(), clientId: randomUUID(), auth: "client_secret" };
    const secrets = { clientSecret: `client-secret-${tag()}` };
    const { id } = ok(await createStoreAction({ name: `azure ${tag()}`, kind: "azure", mode: "READ_ONLY", config, secrets }));
    for (const vaultAddress of ["https://contoso-prod.vault.azure.net", "https://Contoso-Prod.vault.azure.net/", "CONTOSO-PROD", "https://contoso-prod.vault.azure.net:443"]) {
      ok(await updateStoreAction(await editOf(id, { config: { vault: vaultAddress } })));
    }
    expect(await rawSecrets(id)).toEqual(secrets);
    for (const vaultAddress of ["contoso-test", "https://contoso-prod.vault.usgovcloudapi.net", "https://contoso-prod.vault.azure.net:8443"]) {
      const result = (await updateStoreAction(await editOf(id, { config: { vault: vaultAddress } }))) as Result;
      expect(fieldError(result, "secrets.clientSecret"), vaultAddress).toMatch(/^The Key vault changed: enter Client secret again/);
    }
  });
});

describe("store tests and the audit trail", () => {
  it("a draft test runs against the emulator before saving; an edit's draft uses the stored token", async () => {
    const input = vaultInput();
    const draft = ok(await testDraftStoreAction({ ...input, storeId: null }));
    expect(draft).toMatchObject({ ok: true, message: "Connected: wrote, read back and deleted a test secret." });
    const wrong = ok(await testDraftStoreAction({ ...input, secrets: { token: "hvs.not-a-real-token-000000000000" }, storeId: null }));
    expect(wrong).toMatchObject({ ok: false, kind: "auth" });
    expect(wrong.message).toMatch(/^Authentication failed/);

    const { id } = ok(await createStoreAction(input));
    const edit = await editOf(id);
    expect(ok(await testDraftStoreAction({ ...edit, kind: "hashicorp", storeId: id }))).toMatchObject({ ok: true });
    // A draft never changes the saved store's health.
    expect((await getStoreViewOrThrow(admin, id)).lastTest).toBeNull();
  });

  it("create, update, test and delete are audited by name and outcome, and no audit row holds a secret", async () => {
    const proxyPassword = `proxy-${randomUUID()}`;
    const input = vaultInput({ secrets: { proxyUrl: `http://latch:${proxyPassword}@127.0.0.1:9` } });
    const { id } = ok(await createStoreAction(input));
    ok(await updateStoreAction(await editOf(id, { removeSecrets: ["proxyUrl"] })));
    expect(ok(await testStoreAction({ storeId: id }))).toMatchObject({ ok: true });
    vault.revokeToken(token);
    expect(ok(await testStoreAction({ storeId: id }))).toMatchObject({ ok: false, kind: "auth" });
    // Through the unreachable proxy, with the revoked token: a failure, recorded as one.
    expect(ok(await testDraftStoreAction({ ...input, storeId: null }))).toMatchObject({ ok: false });
    ok(await deleteStoreAction({ storeId: id }));
    // The token this test sent (now revoked) is swept for below; the next tests get a new one.
    const sentToken = token;
    token = vault.createToken({ ttlSeconds: 3600 });

    const events = await db().auditEvent.findMany({ where: { OR: [{ targetId: id }, { action: "store.test_draft", targetLabel: input.name }] }, orderBy: { occurredAt: "asc" } });
    expect(events.map((e) => [e.action, e.outcome, e.actorId])).toEqual([
      ["store.create", "SUCCESS", admin.id],
      ["store.update", "SUCCESS", admin.id],
      ["store.test", "SUCCESS", admin.id],
      ["store.test", "FAILURE", admin.id],
      ["store.test_draft", "FAILURE", admin.id],
      ["store.delete", "SUCCESS", admin.id],
    ]);
    expect(events[0]!.details).toMatchObject({ kind: "hashicorp", writeOnlyFieldsSet: ["proxyUrl", "token"] });
    expect(events[3]!.details).toMatchObject({ failure: "auth" });
    const dump = JSON.stringify(events);
    for (const value of [sentToken, input.secrets.token, proxyPassword]) expect(dump).not.toContain(value);
  });
});

describe("deleting and editing against concurrent asset changes", () => {
  it("an asset created while the delete runs makes it refuse with the same in-use message, not an unexpected error", async () => {
    const folder = await makeFolder();
    const { id, name } = ok(await createStoreAction(vaultInput()));
    const assetName = `Payroll ${tag()}`;
    // Another request's transaction: the asset row is written but not yet committed; the delete waits on it.
    const result = await whileAnotherSession(
      `INSERT INTO credential_assets (id, folder_id, name, type, store_id, secret_name, updated_at) VALUES ($1, $2, $3, 'SECRET', $4, 'prod/payroll', now())`,
      [randomUUID(), folder.id, assetName, id],
      () => deleteStoreAction({ storeId: id }),
    );
    expect(result).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    expect((result as Result).error!.message).toBe(`“${name}” is in use by an asset: “${assetName}” (in ${folder.name}). Point it at another store or delete it first.`);
    expect(await db().credentialStore.count({ where: { id } })).toBe(1);
  });

  it("update and delete announce the change to every instance (NOTIFY), not only this one's cache", async () => {
    const listener = new pg.Client({ connectionString: env().DATABASE_URL });
    await listener.connect();
    const heard: { kind: string; id: string }[] = [];
    listener.on("notification", (n) => n.payload && heard.push(JSON.parse(n.payload) as { kind: string; id: string }));
    await listener.query("LISTEN latch_cache_refresh");
    try {
      const { id } = ok(await createStoreAction(vaultInput()));
      ok(await updateStoreAction(await editOf(id, { timeoutMs: 8000 })));
      await vi.waitFor(() => expect(heard).toContainEqual(expect.objectContaining({ kind: "store", id })));
      heard.length = 0;
      ok(await deleteStoreAction({ storeId: id }));
      await vi.waitFor(() => expect(heard).toContainEqual(expect.objectContaining({ kind: "store", id })));
    } finally {
      await listener.end();
    }
  });
});

describe("two administrators editing one store", () => {
  /** What the edit page gives the form: the settings and the settings version it loaded. */
  const formOf = async (storeId: string) => ({ ...(await editOf(storeId)), expectedVersion: (await getStoreViewOrThrow(admin, storeId)).settingsVersion });
  const saved = async (storeId: string) => {
    const row = await db().credentialStore.findUniqueOrThrow({ where: { id: storeId } });
    return { name: row.name, timeoutMs: row.timeoutMs };
  };

  it("a save from a form loaded before the other's change is refused (409), and the other's change stays", async () => {
    const { id, name } = ok(await createStoreAction(vaultInput()));
    const [alices, bobs] = [await formOf(id), await formOf(id)];
    ok(await updateStoreAction({ ...alices, timeoutMs: 8000 }));

    const result = await updateStoreAction({ ...bobs, name: `${name} (renamed)` });
    expect(result).toMatchObject({ ok: false, error: { code: "CONFLICT", message: expect.stringMatching(/Someone else changed this store.*Reload/) } });
    expect(await saved(id)).toEqual({ name, timeoutMs: 8000 });

    // Reloaded, the rename saves and keeps the other's change; a caller that sends no version saves as before.
    ok(await updateStoreAction({ ...(await formOf(id)), name: `${name} (renamed)` }));
    expect(await saved(id)).toEqual({ name: `${name} (renamed)`, timeoutMs: 8000 });
    ok(await updateStoreAction({ ...(await editOf(id)), timeoutMs: 9000 }));
    expect(await saved(id)).toEqual({ name: `${name} (renamed)`, timeoutMs: 9000 });
  });

  it("the version is compared under the row lock: a change committing while the save waits for it is not undone", async () => {
    const { id, name } = ok(await createStoreAction(vaultInput()));
    const form = await formOf(id);
    // Another admin's save (the version moves with it), holding the row until the waiting save is blocked on it.
    const result = await whileAnotherSession(`UPDATE credential_stores SET timeout_ms = 7000, settings_version = settings_version + 1, updated_at = now() WHERE id = $1::uuid`, [id], () =>
      updateStoreAction({ ...form, name: `${name} (renamed)` }),
    );
    expect(result).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    expect(await saved(id)).toEqual({ name, timeoutMs: 7000 });
  });

  it("“Test saved settings” after the form was loaded is no edit: the save lands", async () => {
    const { id, name } = ok(await createStoreAction(vaultInput()));
    const form = await formOf(id);
    const before = await db().credentialStore.findUniqueOrThrow({ where: { id } });
    expect(ok(await testStoreAction({ storeId: id }))).toMatchObject({ ok: true });
    const tested = await db().credentialStore.findUniqueOrThrow({ where: { id } });
    expect(tested.lastTestAt).not.toBeNull();
    expect(tested.updatedAt.getTime()).toBeGreaterThan(before.updatedAt.getTime());
    expect(tested.settingsVersion).toBe(form.expectedVersion);

    ok(await updateStoreAction({ ...form, name: `${name} (renamed)`, timeoutMs: 8000 }));
    expect(await saved(id)).toEqual({ name: `${name} (renamed)`, timeoutMs: 8000 });
    expect((await db().credentialStore.findUniqueOrThrow({ where: { id } })).settingsVersion).toBe(form.expectedVersion + 1);

    // A health write committing while the save waits for the row is no conflict either.
    const again = await formOf(id);
    const result = await whileAnotherSession(
      `UPDATE credential_stores SET last_test_at = now(), last_test_ok = false, last_test_message = 'down', updated_at = now() WHERE id = $1::uuid`,
      [id],
      () => updateStoreAction({ ...again, timeoutMs: 9000 }),
    );
    ok(result);
    expect(await saved(id)).toEqual({ name: `${name} (renamed)`, timeoutMs: 9000 });
  });

  it("every save moves the version, whether the form sent one or not; creating starts at 0", async () => {
    const { id } = ok(await createStoreAction(vaultInput()));
    const version = async () => (await db().credentialStore.findUniqueOrThrow({ where: { id } })).settingsVersion;
    expect(await version()).toBe(0);
    ok(await updateStoreAction({ ...(await editOf(id)), timeoutMs: 6000 }));
    expect(await version()).toBe(1);
    ok(await updateStoreAction({ ...(await formOf(id)), timeoutMs: 6500 }));
    expect(await version()).toBe(2);
    // A form loaded at version 1 is now behind.
    expect(await updateStoreAction({ ...(await editOf(id)), expectedVersion: 1 })).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    expect(await version()).toBe(2);
  });
});

describe("settings saved before today's rules", () => {
  it("a stored address that a newer rule refuses makes reads and tests a clear configuration error, not a 500", async () => {
    const { id } = ok(await createStoreAction(vaultInput()));
    // What a store saved before addresses with user:pass@ in them were refused still holds.
    const withUserInfo = vault.url.replace("https://", "https://someone:secret@");
    await db().$executeRaw`UPDATE credential_stores SET config = jsonb_set(config, '{address}', to_jsonb(${withUserInfo}::text)), updated_at = now() WHERE id = ${id}::uuid`;
    const row = await db().credentialStore.findUniqueOrThrow({ where: { id } });

    const read = await withStoreClient(row, (client) => client.getSecret({ name: "anything" })).catch((error: unknown) => error);
    expect(read).toBeInstanceOf(StoreError);
    expect(read).toMatchObject({ kind: "config", message: expect.stringMatching(/saved settings are no longer accepted \(Vault address: Leave the user name and password out of the address/) });
    expect((read as Error).message).not.toContain("secret");

    const tested = ok(await testStoreAction({ storeId: id }));
    expect(tested).toMatchObject({ ok: false, kind: "config", message: expect.stringContaining("Edit the store, correct them and save.") });
    expect(await db().credentialStore.findUniqueOrThrow({ where: { id } })).toMatchObject({ lastTestOk: false, lastTestMessage: expect.stringContaining("no longer accepted") });
  });
});

describe("the store's health after saving", () => {
  const health = async (id: string) => (await getStoreViewOrThrow(admin, id)).lastTest;

  it("Create after testing the same settings tests the saved store, so it shows its health at once", async () => {
    const created = ok(await createStoreAction({ ...vaultInput(), testAfterSave: true }));
    expect(created).toMatchObject({ test: { ok: true } });
    expect(await health(created.id)).toMatchObject({ ok: true });
    // Without a test in the form, a new store is "Not tested" and the store is not called.
    const before = vault.requests.length;
    const untested = ok(await createStoreAction(vaultInput()));
    expect(untested).not.toHaveProperty("test");
    expect(await health(untested.id)).toBeNull();
    expect(vault.requests.length).toBe(before);
  });

  it("a store that fails its test is still created, with the failure as its health", async () => {
    const created = ok(await createStoreAction({ ...vaultInput({ secrets: { token: "hvs.not-a-token-of-this-vault" } }), testAfterSave: true }));
    expect(created).toMatchObject({ test: { ok: false } });
    expect(await db().credentialStore.count({ where: { id: created.id } })).toBe(1);
    expect(await health(created.id)).toMatchObject({ ok: false, message: expect.any(String) });
  });

  it("changing where or how the store is reached drops the old settings' health; a rename keeps it", async () => {
    const { id, name } = ok(await createStoreAction({ ...vaultInput(), testAfterSave: true }));
    expect(await health(id)).toMatchObject({ ok: true });
    ok(await updateStoreAction({ ...(await editOf(id)), name: `${name} (renamed)` }));
    expect(await health(id)).toMatchObject({ ok: true });

    ok(await updateStoreAction({ ...(await editOf(id)), timeoutMs: 7000 }));
    expect(await health(id)).toBeNull();
    ok(await updateStoreAction({ ...(await editOf(id)), timeoutMs: 7500, testAfterSave: true }));
    expect(await health(id)).toMatchObject({ ok: true });
    // A replaced credential is a change of how it is reached, whatever the address.
    ok(await updateStoreAction({ ...(await editOf(id, { secrets: { token } })) }));
    expect(await health(id)).toBeNull();
  });
});
