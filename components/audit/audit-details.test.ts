import { describe, expect, it } from "vitest";
import { serviceAccountActorEmail } from "@/lib/tokens/actor";
import { describeActor, describeDetails, labelFor, targetTypeLabel } from "./audit-details";

describe("how an audit event's details read in the log", () => {
  it("a token's creation reads as words, not JSON: scopes by field, the account by name, the expiry as a time", () => {
    const lines = describeDetails({
      kind: "service",
      prefix: "lt_yyg52y4i",
      scopes: [{ folderId: "bd4826d1-071a-448c-8cee-b87b28e7c3bf", permissions: ["folders.read", "connections.use"] }],
      expiresAt: "2027-03-04T19:02:48.396Z",
      serviceAccount: { id: "fc82689c-15ab-4ab4-b1bb-2162875e6368", name: "nightly-payroll-runner" },
      tenantPermissions: [],
      note: null,
    });
    expect(lines).toEqual([
      { label: "Kind", text: "service" },
      { label: "Prefix", text: "lt_yyg52y4i" },
      { label: "Scopes", text: "folder ID bd4826d1…, permissions folders.read, connections.use", title: "bd4826d1-071a-448c-8cee-b87b28e7c3bf" },
      { label: "Expires at", text: "2027-03-04T19:02:48.396Z", time: "2027-03-04T19:02:48.396Z" },
      { label: "Service account", text: "nightly-payroll-runner", title: "fc82689c-15ab-4ab4-b1bb-2162875e6368" },
      { label: "Tenant permissions", text: "none" },
    ]);
    expect(lines.map((l) => l.text).join(" ")).not.toMatch(/[{}[\]"]/);
  });

  it("several nested records are kept apart; booleans and numbers read plainly", () => {
    expect(describeDetails({ scopes: [{ folderId: "x" }, { folderId: "y" }], tls: true, timeoutMs: 10000 })).toEqual([
      { label: "Scopes", text: "folder ID x; folder ID y" },
      { label: "TLS", text: "yes" },
      { label: "Timeout", text: "10000 ms" },
    ]);
  });

  it("ids used as keys are shortened like ids anywhere; a named record keeps its other fields", () => {
    const a = "9bfcdd0e-1111-4222-8333-444455556666";
    expect(describeDetails({ assets: { [a]: "cache" }, store: { id: "s1", name: "Vault", kind: "hashicorp" } })).toEqual([
      { label: "Assets", text: "9bfcdd0e…: cache", title: a },
      { label: "Store", text: "Vault (kind hashicorp)", title: "s1" },
    ]);
    // One the reader may not open is recorded by id and read as words (lib/audit/queries.ts).
    expect(describeDetails({ assets: { [a]: "hit", "an asset you cannot open": "miss" } })).toEqual([{ label: "Assets", text: "9bfcdd0e…: hit, an asset you cannot open: miss", title: a }]);
  });

  it("recorded codes read as words; a secret's name or a token prefix stays as written", () => {
    expect(describeDetails({ type: "CREDENTIAL", mode: "READ_WRITE", reason: "wrong_password", failure: "access_denied", kind: "hashicorp", prefix: "lt_yyg52y4i", valueKey: "DB_PASSWORD", reference: "apps/PAYROLL_DB", durationMs: 12 })).toEqual([
      { label: "Type", text: "credential" },
      { label: "Mode", text: "read-write" },
      { label: "Reason", text: "wrong password" },
      { label: "Failure", text: "access denied" },
      { label: "Kind", text: "hashicorp" },
      { label: "Prefix", text: "lt_yyg52y4i" },
      { label: "Value key", text: "DB_PASSWORD" },
      { label: "Reference", text: "apps/PAYROLL_DB" },
      { label: "Duration", text: "12 ms" },
    ]);
  });

  it("no details, or details that are not a record, show nothing", () => {
    for (const details of [null, undefined, "text", 3, [1, 2], {}]) expect(describeDetails(details)).toEqual([]);
  });

  it("labels and target types in words", () => {
    expect(labelFor("usernameFromAsset")).toBe("Username from asset");
    expect(labelFor("parent_id")).toBe("Parent ID");
    expect(targetTypeLabel("api_token")).toBe("API token");
    expect(targetTypeLabel("some_new_kind")).toBe("Some new kind");
  });
});

describe("who and how a request came, as the log names them", () => {
  it("a request with an API token reads as the token's kind and prefix, the token's id in the tooltip", () => {
    const id = "0b7d2c1e-9a0f-4a43-8f8e-3f1f5c2d9a10";
    expect(describeDetails({ via: { kind: "personal", id, prefix: "lt_a1b2c3d4" } })).toEqual([{ label: "Via", text: "Personal access token lt_a1b2c3d4_…", title: id }]);
    expect(describeDetails({ via: { kind: "service", id, prefix: "lt_ffff0000" } })).toEqual([{ label: "Via", text: "Service account token lt_ffff0000_…", title: id }]);
    // Anything else recorded under "via" reads as any other field does.
    expect(describeDetails({ via: "browser" })).toEqual([{ label: "Via", text: "browser" }]);
  });

  it("a service account is named as one, not as an odd e-mail address; a person by their address", () => {
    expect(describeActor(serviceAccountActorEmail("Nightly reports"))).toEqual({ kind: "service-account", name: "Nightly reports" });
    expect(describeActor("ana@example.com")).toEqual({ kind: "person", name: "ana@example.com" });
    expect(describeActor(null)).toEqual({ kind: "system", name: "System" });
  });
});
