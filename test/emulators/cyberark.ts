import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { json, startEmulator, type Emulator, type EmulatorRequest } from "./harness";
import type { TestPki } from "./tls";

/**
 * CyberArk Central Credential Provider (CCP) emulator: `GET /AIMWebService/api/Accounts` over HTTPS
 * with mutual TLS. Applications (App IDs) authenticate by client certificate: the peer certificate
 * must be CA-verified and its SHA-256 fingerprint registered for the App ID, else 403 APPAP306E.
 * Errors follow the CCP table (docs.cyberark.com "Call the Web Service using REST").
 */
export type CcpAccount = {
  safe: string;
  folder: string;
  /** The account's object name ("Name" in the response, "Object" in queries). */
  object: string;
  password: string;
  userName?: string;
  address?: string;
  database?: string;
  policyId?: string;
  deviceType?: string;
  logonDomain?: string;
  /** Custom account properties, returned as extra string fields. */
  properties?: Record<string, string>;
  passwordChangeInProcess?: boolean;
};

export type CcpApp = {
  appId: string;
  /** SHA-256 fingerprints (colon-separated hex, as X509Certificate.fingerprint256) allowed for this App ID. */
  fingerprints: string[];
  /** Safes the application may read; undefined = every safe. */
  safes?: string[];
};

export type CyberarkEmulator = Emulator & {
  /** Base URL to configure in Latch (the provider appends /AIMWebService/api/Accounts). */
  ccpUrl: string;
  pki: TestPki;
  seedAccount(account: Omit<CcpAccount, "folder"> & { folder?: string }): void;
  /** New password (random if not given); returns it. */
  rotateAccount(where: AccountKey, password?: string): string;
  deleteAccount(where: AccountKey): boolean;
  setPasswordChangeInProcess(where: AccountKey, inProcess: boolean): void;
  registerApp(app: CcpApp): void;
  /** Withdraws one certificate (or all, with no fingerprint) from an App ID. */
  revokeAppCertificate(appId: string, fingerprint?: string): void;
  deleteApp(appId: string): void;
};

export type AccountKey = { safe: string; folder?: string; object: string };

const ACCOUNTS_PATH = "/aimwebservice/api/accounts";
const UNSUPPORTED = /[+&%;]/;
const FILTERS = ["safe", "folder", "object", "username", "address", "database", "policyid"] as const;
type Filter = (typeof FILTERS)[number];

const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const sameAccount = (a: CcpAccount, k: AccountKey) => eq(a.safe, k.safe) && eq(a.folder, k.folder ?? "Root") && eq(a.object, k.object);

function ccpError(r: EmulatorRequest, status: number, code: string, message: string) {
  json(r.res, status, { ErrorCode: code, ErrorMsg: message });
}

function accountField(a: CcpAccount, f: Filter): string | undefined {
  switch (f) {
    case "safe": return a.safe;
    case "folder": return a.folder;
    case "object": return a.object;
    case "username": return a.userName;
    case "address": return a.address;
    case "database": return a.database;
    case "policyid": return a.policyId;
  }
}

function toResponse(a: CcpAccount): Record<string, string> {
  const out: Record<string, string> = {
    Content: a.password,
    UserName: a.userName ?? "",
    Address: a.address ?? "",
    Database: a.database ?? "",
    PolicyID: a.policyId ?? "UnixSSH",
    DeviceType: a.deviceType ?? "Operating System",
    Safe: a.safe,
    Folder: a.folder,
    Name: a.object,
    CreationMethod: "PVWA",
    PasswordChangeInProcess: a.passwordChangeInProcess ? "True" : "False",
  };
  if (a.logonDomain) out.LogonDomain = a.logonDomain;
  for (const [k, v] of Object.entries(a.properties ?? {})) out[k] = v;
  return out;
}

export async function startCyberarkEmulator(opts: {
  pki: TestPki;
  /**
   * "request" (default): the server asks for a client certificate but completes the handshake
   * without one, and CyberArk answers 403 APPAP306E. "require": the TLS handshake itself is refused
   * without a CA-verified certificate (IIS "Require client certificates").
   */
  clientCertMode?: "request" | "require";
}): Promise<CyberarkEmulator> {
  const accounts: CcpAccount[] = [];
  const apps = new Map<string, CcpApp>();

  const seedAccount: CyberarkEmulator["seedAccount"] = (input) => {
    const account: CcpAccount = { ...input, folder: input.folder ?? "Root" };
    const i = accounts.findIndex((a) => sameAccount(a, account));
    if (i >= 0) accounts[i] = account;
    else accounts.push(account);
  };
  const findOrThrow = (k: AccountKey) => {
    const a = accounts.find((x) => sameAccount(x, k));
    if (!a) throw new Error(`no account ${k.safe}/${k.folder ?? "Root"}/${k.object}`);
    return a;
  };
  const rotateAccount: CyberarkEmulator["rotateAccount"] = (k, password) => {
    const a = findOrThrow(k);
    a.password = password ?? randomBytes(12).toString("base64url");
    a.passwordChangeInProcess = false;
    return a.password;
  };
  const deleteAccount: CyberarkEmulator["deleteAccount"] = (k) => {
    const i = accounts.findIndex((a) => sameAccount(a, k));
    if (i < 0) return false;
    accounts.splice(i, 1);
    return true;
  };
  const setPasswordChangeInProcess: CyberarkEmulator["setPasswordChangeInProcess"] = (k, inProcess) => {
    findOrThrow(k).passwordChangeInProcess = inProcess;
  };
  const registerApp: CyberarkEmulator["registerApp"] = (app) => {
    apps.set(app.appId.toLowerCase(), { ...app, fingerprints: app.fingerprints.map((f) => f.toUpperCase()) });
  };
  const revokeAppCertificate: CyberarkEmulator["revokeAppCertificate"] = (appId, fingerprint) => {
    const app = apps.get(appId.toLowerCase());
    if (app) app.fingerprints = fingerprint ? app.fingerprints.filter((f) => f !== fingerprint.toUpperCase()) : [];
  };
  const deleteApp: CyberarkEmulator["deleteApp"] = (appId) => void apps.delete(appId.toLowerCase());

  function handle(r: EmulatorRequest) {
    const { req, url } = r;
    if (url.pathname.toLowerCase().replace(/\/$/, "") !== ACCOUNTS_PATH) {
      // IIS answers unknown paths with an HTML 404, not a CCP error object.
      r.res.writeHead(404, { "content-type": "text/html", date: new Date().toUTCString() });
      return void r.res.end("<html><body><h2>404 - File or directory not found.</h2></body></html>");
    }
    if (req.method !== "GET") return ccpError(r, 405, "AIMWS001E", "The requested resource does not support this HTTP method.");

    // Parameter names are case-insensitive; the first occurrence wins.
    const params = new Map<string, string>();
    for (const [k, v] of url.searchParams) if (!params.has(k.toLowerCase())) params.set(k.toLowerCase(), v);
    for (const [k, v] of params) {
      // In Query= the ";" separates filters; the values inside are checked after splitting.
      if (UNSUPPORTED.test(k === "query" ? v.replace(/;/g, "") : v)) return ccpError(r, 400, "CASVL010E", `Invalid characters in parameter [${k}].`);
    }

    const appId = params.get("appid");
    if (!appId) return ccpError(r, 400, "AIMWS031E", "Invalid request. The AppID parameter is mandatory.");

    const filters = new Map<Filter, string>();
    const query = params.get("query");
    if (query !== undefined) {
      // Query=Safe=S;Folder=F;Object=O — when present the separate filters are ignored.
      for (const part of query.split(";").filter((p) => p.trim() !== "")) {
        const at = part.indexOf("=");
        const key = part.slice(0, at).trim().toLowerCase() as Filter;
        if (at <= 0 || !FILTERS.includes(key)) return ccpError(r, 400, "AIMWS030E", `Invalid query format: [${query}].`);
        filters.set(key, part.slice(at + 1).trim());
      }
    } else {
      for (const f of FILTERS) {
        const v = params.get(f);
        if (v !== undefined && v !== "") filters.set(f, v);
      }
    }
    if (filters.size === 0) return ccpError(r, 400, "AIMWS030E", "Invalid query format: no query parameters were given.");
    const queryFormat = (params.get("queryformat") ?? "exact").toLowerCase();
    if (queryFormat !== "exact" && queryFormat !== "regexp") return ccpError(r, 400, "AIMWS031E", `Invalid parameter QueryFormat [${params.get("queryformat")}].`);
    const failOnChange = (params.get("failrequestonpasswordchange") ?? "false").toLowerCase();
    if (failOnChange !== "true" && failOnChange !== "false") return ccpError(r, 400, "AIMWS031E", "Invalid parameter FailRequestOnPasswordChange.");

    // Application authentication: the certificate must be CA-verified and registered for the App ID.
    const app = apps.get(appId.toLowerCase());
    if (!app) return ccpError(r, 403, "APPAP008E", `Problem occurred while trying to use user [${appId}] in the Vault (Diagnostic info: 1). Please check that the application user is defined.`);
    const socket = req.socket as TLSSocket;
    const peer = socket.authorized ? socket.getPeerCertificate() : undefined;
    if (!peer?.fingerprint256 || !app.fingerprints.includes(peer.fingerprint256.toUpperCase())) {
      return ccpError(r, 403, "APPAP306E", `[${appId}] Authentication with the client certificate failed. Reason: APPAP306E Application authentication failed.`);
    }

    const queryText = [...filters].map(([k, v]) => `${k[0]!.toUpperCase()}${k.slice(1)}=${v}`).join(";");
    let matchers: [Filter, (s: string | undefined) => boolean][];
    try {
      matchers = [...filters].map(([f, v]) => {
        if (queryFormat === "regexp") {
          const re = new RegExp(v, "i");
          return [f, (s) => s !== undefined && re.test(s)];
        }
        return [f, (s) => s !== undefined && eq(s, v)];
      });
    } catch {
      return ccpError(r, 400, "AIMWS030E", `Invalid query format: [${queryText}].`);
    }
    const visible = accounts.filter((a) => !app.safes || app.safes.some((s) => eq(s, a.safe)));
    const matches = visible.filter((a) => matchers.every(([f, m]) => m(accountField(a, f))));
    if (matches.length === 0) {
      // CCP answers "not found" both for a missing object and for a safe the application cannot use.
      return ccpError(
        r,
        404,
        "APPAP004E",
        `Password object matching query [${queryText}] was not found (Diagnostic Info: 5). Please check that there is a password object that answers your query in the Vault and that both the Provider and the application user have the appropriate permissions needed in order to use the password.`,
      );
    }
    if (matches.length > 1) return ccpError(r, 400, "APPAP227E", `Too many password objects matching query [${queryText}] were found (Diagnostic Info: 41).`);
    const account = matches[0]!;
    if (account.passwordChangeInProcess && failOnChange === "true") {
      return ccpError(r, 500, "APPAP282E", `Password [${account.object}] is currently being changed by the CPM (Diagnostic Info: 50).`);
    }
    json(r.res, 200, toResponse(account));
  }

  async function control(r: EmulatorRequest): Promise<boolean> {
    const { req, url, res } = r;
    const body = (r.body ? JSON.parse(r.body) : {}) as Record<string, unknown>;
    const key = () => ({ safe: String(body.safe), folder: body.folder ? String(body.folder) : undefined, object: String(body.object) });
    const route = `${req.method} ${url.pathname}`;
    try {
      switch (route) {
        case "GET /_control/accounts":
          json(res, 200, accounts.map((a) => ({ ...a, password: undefined })));
          return true;
        case "POST /_control/accounts":
          seedAccount(body as unknown as CcpAccount);
          json(res, 200, { ok: true });
          return true;
        case "POST /_control/accounts/rotate":
          rotateAccount(key(), typeof body.password === "string" ? body.password : undefined);
          json(res, 200, { ok: true });
          return true;
        case "POST /_control/accounts/delete":
          json(res, deleteAccount(key()) ? 200 : 404, {});
          return true;
        case "POST /_control/accounts/password-change":
          setPasswordChangeInProcess(key(), body.inProcess !== false);
          json(res, 200, { ok: true });
          return true;
        case "POST /_control/apps":
          registerApp({ appId: String(body.appId), fingerprints: (body.fingerprints as string[]) ?? [], safes: body.safes as string[] | undefined });
          json(res, 200, { ok: true });
          return true;
        case "POST /_control/apps/revoke":
          revokeAppCertificate(String(body.appId), body.fingerprint ? String(body.fingerprint) : undefined);
          json(res, 200, { ok: true });
          return true;
        case "POST /_control/apps/delete":
          deleteApp(String(body.appId));
          json(res, 200, { ok: true });
          return true;
        default:
          return false;
      }
    } catch (error) {
      json(res, 400, { error: (error as Error).message });
      return true;
    }
  }

  const emulator = await startEmulator({
    name: "cyberark-ccp",
    tls: {
      cert: opts.pki.serverCert,
      key: opts.pki.serverKey,
      ca: opts.pki.caCert,
      requestCert: true,
      rejectUnauthorized: opts.clientCertMode === "require",
    },
    handle,
    control,
  });

  return {
    ...emulator,
    ccpUrl: emulator.url,
    pki: opts.pki,
    seedAccount,
    rotateAccount,
    deleteAccount,
    setPasswordChangeInProcess,
    registerApp,
    revokeAppCertificate,
    deleteApp,
  };
}

/**
 * A small demo: App ID "Latch" with one client certificate, safe "Finance" holding two accounts.
 * Returns what to enter in the console to register it.
 */
export function seedDemoCyberark(emulator: CyberarkEmulator) {
  const { pki } = emulator;
  const client = pki.issueClient("latch-demo");
  emulator.registerApp({ appId: "Latch", fingerprints: [client.fingerprint256], safes: ["Finance"] });
  emulator.seedAccount({ safe: "Finance", object: "payroll-db", userName: "payroll_app", address: "db.finance.internal", database: "payroll", password: randomBytes(12).toString("base64url") });
  emulator.seedAccount({ safe: "Finance", object: "erp-admin", userName: "erp-admin", address: "erp.finance.internal", password: randomBytes(12).toString("base64url"), properties: { Environment: "prod" } });
  const storeConfig = { url: emulator.ccpUrl, appId: "Latch", safe: "Finance", folder: "Root", certificateFormat: "pem", failOnPasswordChange: false };
  const storeSecrets = { clientCertificatePem: `${client.cert}${client.key}` };
  const pemFile = path.join(pki.dir, "cyberark-demo-client.pem");
  writeFileSync(pemFile, storeSecrets.clientCertificatePem, { mode: 0o600 });
  const instructions = [
    `CyberArk CCP emulator at ${emulator.ccpUrl} (control API ${emulator.controlUrl}).`,
    `Register a store of kind "CyberArk Central Credential Provider" with CCP URL ${emulator.ccpUrl}, App ID "Latch", Safe "Finance", Folder "Root", certificate format PEM.`,
    `Client certificate + key (paste into "Client certificate and private key"): ${pemFile}. CA bundle: ${path.join(pki.dir, "latch-test-ca.pem")}.`,
    `Objects: payroll-db, erp-admin. Rotate with: curl -XPOST ${emulator.controlUrl}/_control/accounts/rotate -d '{"safe":"Finance","object":"payroll-db"}'`,
  ].join("\n");
  return { instructions, storeConfig, storeSecrets };
}
