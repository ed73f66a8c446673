import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { assetSchema } from "@/lib/assets/dto";
import { storeListResponseSchema } from "@/lib/stores/dto";
import { createStoreSchema } from "@/lib/stores/schemas";
import { defineStoreKind } from "./descriptor";
import { canonicalLocator, describeField, movedLocators, secret, setting } from "./fields";
import { referenceView, VERSION_KINDS } from "./reference";
import { EXTERNAL_STORE_KINDS, PROVIDERS, STORE_KINDS } from "./registry";

const providersDir = path.join(__dirname, "providers");
const folders = readdirSync(providersDir).filter((name) => statSync(path.join(providersDir, name)).isDirectory());

describe("the store registry", () => {
  it("has exactly one entry per provider folder, keyed by the provider's own kind", () => {
    expect(new Set(Object.keys(PROVIDERS))).toEqual(new Set(folders));
    for (const [key, provider] of Object.entries(PROVIDERS)) expect(provider.kind, key).toBe(key);
  });

  it("is where every list of kinds comes from: the create form's enum and the REST schema follow it", () => {
    expect(STORE_KINDS).toEqual(Object.keys(PROVIDERS));
    expect(EXTERNAL_STORE_KINDS).toEqual(STORE_KINDS.filter((k) => k !== "latch"));
    const kindOf = (createStoreSchema.shape.kind as z.ZodEnum).options;
    expect(kindOf).toEqual(EXTERNAL_STORE_KINDS);
    const restKinds = (storeListResponseSchema.shape.stores.element.shape.kind as z.ZodEnum).options;
    expect(restKinds).toEqual(STORE_KINDS);
  });

  it("each provider folder has a client-safe descriptor: no server-only code, only zod and the field helpers", () => {
    for (const folder of folders) {
      const file = path.join(providersDir, folder, "descriptor.ts");
      const source = readFileSync(file, "utf8");
      const imports = [...source.matchAll(/^\s*(?:import|export)[^;]*?from\s+["']([^"']+)["']/gm)].map((m) => m[1]);
      expect(source, folder).not.toMatch(/server-only/);
      for (const spec of imports) expect(["zod", "../../descriptor", "../../fields", "../../reference"], `${folder}/descriptor.ts imports ${spec}`).toContain(spec);
    }
  });

  it("the StoreProvider of every kind has the issue's members: config schema, validate, getSecret, put/delete for read-write, health", async () => {
    for (const provider of Object.values(PROVIDERS)) {
      expect(provider.configSchema).toBeInstanceOf(z.ZodObject);
      expect(provider.secretSchema).toBeInstanceOf(z.ZodObject);
      expect(typeof provider.validate).toBe("function");
      expect(typeof provider.create).toBe("function");
    }
    // The Latch store builds its client without a network: its methods are what every client offers.
    const client = PROVIDERS.latch.create({ config: {}, secrets: {}, common: { timeoutMs: 1000 }, storeId: "00000000-0000-4000-8000-000000000000" });
    for (const m of ["getSecret", "putSecret", "deleteSecret", "health"] as const) expect(typeof client[m], m).toBe("function");
  });
});

describe("asset reference rules live in each provider's descriptor", () => {
  // Checked by `tsc` (npm test's typecheck step), not at run time: the @ts-expect-error fails the
  // typecheck the day `reference` stops being required. Nothing here is called.
  it("a kind without reference rules does not compile (tsc)", () => {
    const withoutRules = () =>
      // @ts-expect-error `reference` is required: an asset could not name a secret in this kind.
      defineStoreKind({ kind: "newkind", label: "New", description: "A new kind.", supportsWrite: false, singleValue: false, shape: {} });
    void withoutRules;
  });

  it("every kind has them complete: words for the form, a name rule that refuses a blank name, version rules, default keys", () => {
    for (const provider of Object.values(PROVIDERS)) {
      const { reference: r, kind } = provider;
      expect(r, `${kind} has no reference rules`).toBeDefined();
      for (const text of [r.nameLabel, r.writeNameLabel, r.nameHelp, r.namePlaceholder, r.nameNoun, r.hint]) expect(text, kind).toMatch(/\S/);
      expect(r.name, kind).toBeInstanceOf(z.ZodType);
      expect(r.name.safeParse("").success, `${kind} accepts a blank name`).toBe(false);
      expect(r.name.safeParse(r.namePlaceholder).success, `${kind} refuses its own placeholder`).toBe(true);
      expect(typeof r.caseInsensitive, kind).toBe("boolean");
      expect(r.defaultKeys.username, kind).not.toBe(r.defaultKeys.password);
      const v = r.version;
      if (v.mode === "single") expect(v.rule, kind).toBeInstanceOf(z.ZodType);
      else if (v.mode === "stageOrId") {
        expect(v.choices.map((c) => c.value), kind).toEqual([...VERSION_KINDS]);
        expect(v.stage.rule.safeParse("").success, kind).toBe(false);
        expect(v.id.rule.safeParse("").success, kind).toBe(false);
      } else expect(v.note, kind).toMatch(/\S/);
    }
  });

  it("the REST schema's note on versions is written from them", () => {
    const note = assetSchema.shape.secretVersion.meta()?.description ?? "";
    for (const p of Object.values(PROVIDERS)) {
      if (p.reference.version.mode === "stageOrId") expect(note).toContain(`${p.label}: "stage:<staging label>"`);
      if (p.reference.version.mode === "none") expect(note).toMatch(new RegExp(`${p.label}[^.]*: always null`));
    }
  });

  it("the asset form gets their words as plain data, never the checks", () => {
    for (const provider of Object.values(PROVIDERS)) {
      const view = referenceView(provider.reference);
      expect(JSON.parse(JSON.stringify(view)), provider.kind).toEqual(view);
      expect(JSON.stringify(view), provider.kind).not.toMatch(/"rule"|"name":/);
      expect(view.nameLabel).toBe(provider.reference.nameLabel);
    }
  });
});

describe("form fields derived from the zod schema", () => {
  it("takes required-ness from the schema and option values from the enum, so they cannot drift", () => {
    expect(describeField("a", setting(z.string().min(1), { label: "A" })).required).toBe(true);
    expect(describeField("b", setting(z.string().optional(), { label: "B" })).required).toBe(false);
    expect(describeField("c", setting(z.string().default("x"), { label: "C" })).required).toBe(false);
    const choice = setting(z.enum(["auto", "2", "1"]).default("auto"), {
      label: "D",
      options: [
        { value: "auto", label: "Detect" },
        { value: "2", label: "Two" },
        { value: "1", label: "One" },
      ],
    });
    // Display order as written (not the enum's object order, which puts "1" and "2" first), and the default.
    expect(describeField("d", choice)).toMatchObject({ type: "select", required: false, default: "auto", options: [{ value: "auto" }, { value: "2" }, { value: "1" }] });
    expect(describeField("e", secret(z.string().optional(), { label: "E", showWhen: { field: "d", equals: ["y"] }, requiredWhenShown: "Enter E." }))).toMatchObject({ secret: true, required: true });
    expect(describeField("f", setting(z.boolean().default(false), { label: "F" })).type).toBe("boolean");
  });

  it("refuses an enum whose options are not all labelled, and a field without metadata", () => {
    expect(() => describeField("g", setting(z.enum(["x", "y"]), { label: "G", options: [{ value: "x", label: "Ex" }] }))).toThrow(/label exactly the options x, y/);
    expect(() => describeField("g", setting(z.enum(["x"]), { label: "G", options: [{ value: "x", label: "Ex" }, { value: "z", label: "Zed" }] }))).toThrow(/label exactly/);
    expect(() => describeField("h", z.string())).toThrow(/no form metadata/);
  });

  it("every provider's form lists each schema key once, write-only exactly where the secret schema has it", () => {
    for (const provider of Object.values(PROVIDERS)) {
      const names = provider.fields.map((f) => f.name);
      expect(names, provider.kind).toEqual(Object.keys(provider.shape));
      expect(new Set(provider.fields.filter((f) => f.secret).map((f) => f.name)), provider.kind).toEqual(new Set(Object.keys(provider.secretSchema.shape)));
      expect(new Set(provider.fields.filter((f) => !f.secret).map((f) => f.name)), provider.kind).toEqual(new Set(Object.keys(provider.configSchema.shape)));
      for (const f of provider.fields) {
        expect(f.help, `${provider.kind}.${f.name}`).toBeTruthy();
        if (f.showWhen) expect(Object.keys(provider.shape), `${provider.kind}.${f.name} depends on ${f.showWhen.field}`).toContain(f.showWhen.field);
      }
    }
  });

  it("a new store's form starts from each schema's defaults (Vault detects the KV version; Azure signs in with a certificate)", () => {
    const initial = (kind: keyof typeof PROVIDERS, name: string) => PROVIDERS[kind].fields.find((f) => f.name === name)?.default;
    expect(initial("hashicorp", "kvVersion")).toBe("auto");
    expect(initial("hashicorp", "auth")).toBe("token");
    expect(initial("hashicorp", "mount")).toBe("secret");
    expect(initial("azure", "auth")).toBe("certificate");
    expect(initial("cyberark", "failOnPasswordChange")).toBe(false);
    for (const provider of Object.values(PROVIDERS)) for (const f of provider.fields) if (f.type === "select") expect(f.options?.map((o) => o.value), `${provider.kind}.${f.name}`).toContain(f.default);
  });

  it("a locator compares as the address it names: case, default port and trailing slash are no change; a bare name is its URL", () => {
    const plain = { nameUrl: undefined };
    expect(canonicalLocator(plain, "https://Vault.Example.com:443/")).toBe(canonicalLocator(plain, "https://vault.example.com"));
    expect(canonicalLocator(plain, "https://vault.example.com:8200")).not.toBe(canonicalLocator(plain, "https://vault.example.com"));
    expect(canonicalLocator(plain, "https://vault.example.com/v2")).not.toBe(canonicalLocator(plain, "https://vault.example.com"));
    expect(canonicalLocator(plain, undefined)).toBe(canonicalLocator(plain, "  "));
    const vaultField = PROVIDERS.azure.fields.find((f) => f.name === "vault")!;
    expect(vaultField).toMatchObject({ locator: true, nameUrl: "https://{name}.vault.azure.net" });
    expect(canonicalLocator(vaultField, "Contoso-Prod")).toBe(canonicalLocator(vaultField, "https://contoso-prod.vault.azure.net/"));
    expect(canonicalLocator(vaultField, "contoso-prod")).not.toBe(canonicalLocator(vaultField, "https://contoso-prod.vault.usgovcloudapi.net"));
    // Only locators count: a changed tenant ID is not a new address.
    const fields = PROVIDERS.azure.fields;
    expect(movedLocators(fields, { vault: "contoso-prod", tenantId: "a" }, { vault: "https://contoso-prod.vault.azure.net", tenantId: "b" })).toEqual([]);
    expect(movedLocators(fields, { vault: "contoso-prod" }, { vault: "contoso-prod", authorityHost: "https://login.example.com" })).toEqual(["Authority host"]);
  });

  it("refuses store addresses with a user name or password in them, by the field; accepts every AWS region code form", () => {
    const issues = (kind: keyof typeof PROVIDERS, config: Record<string, unknown>) =>
      (PROVIDERS[kind].configSchema.safeParse(config).error?.issues ?? []).filter((i) => /user name and password/.test(i.message)).map((i) => i.path.join("."));
    expect(issues("hashicorp", { address: "https://admin:hunter2@vault.example.com", auth: "token" })).toEqual(["address"]);
    expect(issues("hashicorp", { address: "https://vault.example.com", auth: "token" })).toEqual([]);
    expect(issues("cyberark", { url: "https://u:p@ccp.example.com", appId: "a", safe: "s" })).toEqual(["url"]);
    expect(issues("azure", { vault: "contoso-prod", tenantId: "t", clientId: "c", auth: "client_secret", authorityHost: "https://app:s3cret@login.microsoftonline.us" })).toEqual(["authorityHost"]);
    expect(issues("azure", { vault: "contoso-prod", tenantId: "t", clientId: "c", auth: "client_secret", authorityHost: "https://login.microsoftonline.us" })).toEqual([]);
    expect(issues("aws", { region: "eu-west-1", endpoint: "https://key:secret@vpce.example.com", stsEndpoint: "https://k@sts.example.com" }).sort()).toEqual(["endpoint", "stsEndpoint"]);
    for (const region of ["eu-west-1", "us-gov-west-1", "cn-north-1", "us-isob-east-1", "eusc-de-east-1", "ap-southeast-7"]) {
      expect(PROVIDERS.aws.configSchema.safeParse({ region }).error?.issues.filter((i) => i.path[0] === "region") ?? [], region).toEqual([]);
    }
    expect(PROVIDERS.aws.configSchema.safeParse({ region: "eu west 1" }).error?.issues.map((i) => i.path[0])).toContain("region");
  });

  it("a field required only in one mode is checked by the schema in that mode (AppRole needs a role ID)", () => {
    const config = PROVIDERS.hashicorp.configSchema;
    expect(PROVIDERS.hashicorp.fields.find((f) => f.name === "roleId")).toMatchObject({ required: true, showWhen: { field: "auth", equals: ["approle"] } });
    expect(config.safeParse({ address: "https://v", auth: "approle" }).error?.issues.map((i) => i.path)).toEqual([["roleId"]]);
    expect(config.safeParse({ address: "https://v", auth: "token" }).success).toBe(true);
  });
});
