import { describe, expect, it } from "vitest";
import { sameOAuthGrant } from "@/lib/connectors/oauth2";
import { getConnectorOrThrow } from "@/lib/connectors/registry";
import { createTestPki } from "@/test/emulators/tls";
import { destinationChange } from "./destination";

/** Where each connector sends its typed secrets, and which edits keep a typed secret from following (mutations.ts). */
describe("connector destinations", () => {
  it("socket connectors: host (any case) and port, whether TLS is on, and the CA certificate", () => {
    const pg = getConnectorOrThrow("postgres");
    expect(pg.destination({ host: "DB.example.com ", port: 5432, tlsMode: "verify-full" })).toEqual({ address: "db.example.com:5432", encrypted: true, ca: null });
    expect(pg.destination({ host: "db.example.com", port: 5432, tlsMode: "disable" }).encrypted).toBe(false);
    expect(getConnectorOrThrow("mariadb").destination({ host: "m", port: 3306, tls: true, caCertificate: "PEM" })).toEqual({ address: "m:3306", encrypted: true, ca: "PEM" });
    expect(getConnectorOrThrow("mariadb").destination({ host: "m", port: 3306, tls: false }).encrypted).toBe(false);
    expect(getConnectorOrThrow("redis").destination({ host: "r", port: 6379, tls: false }).encrypted).toBe(false);
    expect(getConnectorOrThrow("rabbitmq").destination({ host: "q", port: 5671, tls: true }).encrypted).toBe(true);
  });

  it("URL connectors: the URL the secret goes to (path and query included), https or not, and the CA bundle", () => {
    const http = getConnectorOrThrow("http");
    expect(http.destination({ baseUrl: "https://api.example.com/v1", caBundle: "PEM" })).toEqual({ address: "https://api.example.com/v1", encrypted: true, ca: "PEM" });
    expect(http.destination({ baseUrl: "http://api.example.com/v1" }).encrypted).toBe(false);
    // One URL written two ways is one address; another path on the same host (another customer's webhook) is not.
    expect(http.destination({ baseUrl: "HTTPS://API.example.com:443/v1/" }).address).toBe("https://api.example.com/v1");
    expect(http.destination({ baseUrl: "https://hooks.example.com/catch/1/a/" }).address).not.toBe(http.destination({ baseUrl: "https://hooks.example.com/catch/999/b/" }).address);
    // The OAuth client secret goes to the token endpoint, and the access tokens it buys to the API's
    // host: an editor who moves the API elsewhere would otherwise receive fresh tokens for the app.
    const oauth = getConnectorOrThrow("oauth2");
    const app = (over: Record<string, string> = {}) => oauth.destination({ tokenUrl: "https://login.example.com/token", apiBaseUrl: "https://api.example.com/v1", ...over });
    expect(destinationChange(app(), app({ apiBaseUrl: "https://elsewhere.example/v1" }))).toBe("to a new address");
    expect(destinationChange(app(), app({ apiBaseUrl: "https://api.example.com:8443/v1" }))).toBe("to a new address");
    expect(destinationChange(app(), app({ apiBaseUrl: "http://api.example.com/v1" }))).toBe("to a new address or without TLS");
    expect(destinationChange(app(), app({ tokenUrl: "https://login.example.com/other-tenant/token" }))).toBe("to a new address");
    // Another path on the API's host keeps it, as it keeps the grant's tokens (sameOAuthGrant, below).
    expect(destinationChange(app(), app({ apiBaseUrl: "https://API.example.com/v2/" }))).toBeNull();
    // On a shared identity provider the tenant is in the path: another tenant's endpoint is another destination.
    const tenant = (id: string) => oauth.destination({ tokenUrl: `https://login.microsoftonline.com/${id}/oauth2/v2.0/token`, apiBaseUrl: "https://graph.microsoft.com" });
    expect(destinationChange(tenant("ours"), tenant("theirs"))).toBe("to a new address");
    expect(destinationChange(tenant("ours"), tenant("ours"))).toBeNull();
    // An OAuth grant's tokens belong to the API's host (its resource server): another path there keeps them.
    const grant = (apiBaseUrl: string) => ({ authorizationUrl: "https://login.example.com/authorize", tokenUrl: "https://login.example.com/token", clientId: "app", scopes: "read", grant: "authorization_code", apiBaseUrl });
    expect(sameOAuthGrant(grant("https://api.example.com/v1"), grant("https://API.example.com/v2/"))).toBe(true);
    expect(sameOAuthGrant(grant("https://api.example.com/v1"), grant("https://elsewhere.example/v1"))).toBe(false);
  });

  it("a kept typed secret follows an edit only to the same address, over TLS as before, under no new CA", () => {
    const [a, b] = [createTestPki().caCert, createTestPki().caCert];
    const at = (over: Partial<{ address: string; encrypted: boolean; ca: string | null }> = {}) => ({ address: "db:5432", encrypted: true, ca: a, ...over });
    expect(destinationChange(at(), at())).toBeNull();
    expect(destinationChange(at(), at({ address: "evil:5432" }))).toBe("to a new address");
    expect(destinationChange(at(), at({ encrypted: false }))).toBe("without TLS");
    expect(destinationChange(at({ encrypted: false }), at())).toBeNull(); // turning TLS on only protects it
    expect(destinationChange(at(), at({ ca: `${a}\n${b}` }))).toBe("under a newly trusted CA");
    expect(destinationChange(at({ ca: `${a}\n${b}` }), at())).toBeNull(); // fewer CAs only narrow trust
    expect(destinationChange(at(), at({ ca: a.replace(/\n/g, "\r\n") }))).toBeNull(); // the same certificate written differently
    expect(destinationChange(at(), at({ address: "evil:5432", encrypted: false, ca: b }))).toBe("to a new address or without TLS or under a newly trusted CA");
  });
});
