import { readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { db } from "@/lib/db";
import { env } from "@/lib/env";
import { makeFolder } from "@/test/fixtures";
import { checkReference, describeVersion, splitVersion, type ReferenceInput } from "./reference";

/** Per-kind reference rules (lib/assets/reference.ts) and the migration to their storage shape. */

const ref = (secretName: string, secretVersion = "", versionKind?: ReferenceInput["versionKind"]): ReferenceInput => ({ secretName, secretVersion, versionKind });
const reading = { writing: false };

describe("references are checked per store kind, with the field that is wrong named", () => {
  it("HashiCorp Vault: a path below the mount (surrounding slashes dropped), a whole-number version", () => {
    expect(checkReference("hashicorp", ref(" /prod/payroll-db/ ", "3"), reading)).toEqual({ ok: true, value: { secretName: "prod/payroll-db", secretVersion: "3" } });
    expect(checkReference("hashicorp", ref("prod//db"), reading)).toMatchObject({ ok: false, fieldErrors: { secretName: [expect.stringContaining("empty")] } });
    expect(checkReference("hashicorp", ref("prod/../other"), reading)).toMatchObject({ ok: false, fieldErrors: { secretName: [expect.any(String)] } });
    expect(checkReference("hashicorp", ref("prod/db", "v3"), reading)).toMatchObject({ ok: false, fieldErrors: { secretVersion: [expect.stringContaining("whole number")] } });
    expect(checkReference("hashicorp", ref(""), reading)).toMatchObject({ ok: false, fieldErrors: { secretName: [expect.stringContaining("path")] } });
  });

  it("Azure Key Vault: 1–127 letters, digits and hyphens; a version ID of letters and digits", () => {
    expect(checkReference("azure", ref("payroll-db-password", "0123456789abcdef0123456789abcdef"), reading)).toEqual({
      ok: true,
      value: { secretName: "payroll-db-password", secretVersion: "0123456789abcdef0123456789abcdef" },
    });
    expect(checkReference("azure", ref("payroll_db/password"), reading)).toMatchObject({ ok: false, fieldErrors: { secretName: [expect.stringContaining("letters, digits and hyphens")] } });
    expect(checkReference("azure", ref("ok-name", "not a version"), reading)).toMatchObject({ ok: false, fieldErrors: { secretVersion: [expect.stringContaining("version ID")] } });
  });

  it("AWS: the version is explicitly a staging label or a version ID, stored as such (no guessing by case)", () => {
    expect(checkReference("aws", ref("prod/payroll-db"), reading)).toEqual({ ok: true, value: { secretName: "prod/payroll-db", secretVersion: null } });
    expect(checkReference("aws", ref("prod/payroll-db", "", "latest"), reading)).toEqual({ ok: true, value: { secretName: "prod/payroll-db", secretVersion: null } });
    expect(checkReference("aws", ref("prod/payroll-db", "AWSPREVIOUS", "stage"), reading)).toMatchObject({ ok: true, value: { secretVersion: "stage:AWSPREVIOUS" } });
    // A lower-case custom label is a label, not a version id.
    expect(checkReference("aws", ref("prod/payroll-db", "pending-rotation", "stage"), reading)).toMatchObject({ ok: true, value: { secretVersion: "stage:pending-rotation" } });
    expect(checkReference("aws", ref("prod/payroll-db", "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE", "id"), reading)).toMatchObject({ ok: true, value: { secretVersion: "id:EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE" } });
    expect(checkReference("aws", ref("arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/payroll-db-AbCdEf"), reading)).toMatchObject({ ok: true });

    expect(checkReference("aws", ref("prod/payroll-db", "AWSPREVIOUS"), reading)).toMatchObject({ ok: false, fieldErrors: { versionKind: [expect.stringContaining("staging label or a version ID")] } });
    expect(checkReference("aws", ref("prod/payroll-db", "", "stage"), reading)).toMatchObject({ ok: false, fieldErrors: { secretVersion: ["Enter the staging label, e.g. AWSPREVIOUS."] } });
    expect(checkReference("aws", ref("prod/payroll-db", "short", "id"), reading)).toMatchObject({ ok: false, fieldErrors: { secretVersion: [expect.stringContaining("32–64")] } });
    expect(checkReference("aws", ref("prod/payroll-db", "AWSCURRENT", "latest"), reading)).toMatchObject({ ok: false, fieldErrors: { secretVersion: [expect.any(String)] } });
    expect(checkReference("aws", ref("arn:aws:iam::123456789012:role/x"), reading)).toMatchObject({ ok: false, fieldErrors: { secretName: [expect.stringContaining("ARN")] } });
  });

  it("CyberArk: an Object name, never a version", () => {
    expect(checkReference("cyberark", ref("Operating System-UnixSSH-db01-root"), reading)).toEqual({ ok: true, value: { secretName: "Operating System-UnixSSH-db01-root", secretVersion: null } });
    expect(checkReference("cyberark", ref("db01", "2"), reading)).toMatchObject({ ok: false, fieldErrors: { secretVersion: [expect.stringContaining("no versions")] } });
    expect(checkReference("cyberark", ref("a&b"), reading)).toMatchObject({ ok: false, fieldErrors: { secretName: [expect.stringContaining("+ & % or ;")] } });
  });

  it("Latch Database: any name, a whole-number version", () => {
    expect(checkReference("latch", ref("finance/payroll-db", "2"), reading)).toEqual({ ok: true, value: { secretName: "finance/payroll-db", secretVersion: "2" } });
    expect(checkReference("latch", ref("finance/payroll-db", "0"), reading)).toMatchObject({ ok: false, fieldErrors: { secretVersion: [expect.any(String)] } });
  });

  it("a value typed in is always the latest version: any version is refused", () => {
    for (const [kind, input] of [
      ["hashicorp", ref("apps/x", "2")],
      ["azure", ref("x", "abc")],
      ["aws", ref("apps/x", "AWSPREVIOUS", "stage")],
    ] as const) {
      expect(checkReference(kind, input, { writing: true }), kind).toMatchObject({ ok: false, fieldErrors: { secretVersion: [expect.stringContaining("always the latest")] } });
    }
    expect(checkReference("aws", ref("apps/x", "", "stage"), { writing: true })).toMatchObject({ ok: false, fieldErrors: { versionKind: [expect.stringContaining("always the latest")] } });
  });

  it("stored AWS versions read back into the form's fields and into words", () => {
    expect(splitVersion("aws", "stage:AWSPREVIOUS")).toEqual({ versionKind: "stage", secretVersion: "AWSPREVIOUS" });
    expect(splitVersion("aws", "id:abc")).toEqual({ versionKind: "id", secretVersion: "abc" });
    expect(splitVersion("aws", null)).toEqual({ versionKind: "latest", secretVersion: "" });
    expect(splitVersion("hashicorp", "3")).toEqual({ versionKind: "latest", secretVersion: "3" });
    expect(describeVersion("aws", "stage:pending")).toEqual({ label: "Staging label", value: "pending" });
    expect(describeVersion("aws", null)).toEqual({ label: "Current (AWSCURRENT)", value: null });
    expect(describeVersion("hashicorp", "4")).toEqual({ label: "Version", value: "4" });
  });
});

describe("the migration to explicit AWS versions", () => {
  it("rewrites AWS pins as the old guess read them, drops CyberArk pins, and leaves other kinds alone", async () => {
    const folder = await makeFolder();
    const store = (kind: "aws" | "cyberark" | "hashicorp") => db().credentialStore.create({ data: { name: `${kind} ${folder.id.slice(0, 6)}`, kind } });
    const [aws, cyberark, vault] = [await store("aws"), await store("cyberark"), await store("hashicorp")];
    const asset = (storeId: string, secretVersion: string | null) =>
      db().credentialAsset.create({ data: { folderId: folder.id, name: `A ${Math.random()}`, type: "SECRET", storeId, secretName: "x", secretVersion } });
    const cases: [Awaited<ReturnType<typeof asset>>, string | null][] = [
      [await asset(aws.id, "AWSPREVIOUS"), "stage:AWSPREVIOUS"],
      [await asset(aws.id, "MY_LABEL2"), "stage:MY_LABEL2"],
      [await asset(aws.id, "stage:pending-rotation"), "stage:pending-rotation"],
      [await asset(aws.id, "id:abc"), "id:abc"],
      [await asset(aws.id, "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"), "id:a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"],
      [await asset(aws.id, "lowercase-was-an-id"), "id:lowercase-was-an-id"],
      [await asset(aws.id, " "), null],
      [await asset(aws.id, null), null],
      [await asset(cyberark.id, "2"), null],
      [await asset(vault.id, "7"), "7"],
    ];
    const sql = readFileSync(path.join(process.cwd(), "prisma/migrations/20261124100000_asset_version_kinds/migration.sql"), "utf8");
    const client = new pg.Client({ connectionString: env().DATABASE_URL });
    await client.connect();
    try {
      await client.query(sql);
      // Running it again changes nothing: it is safe on data already in the new shape.
      await client.query(sql);
    } finally {
      await client.end();
    }
    for (const [row, expected] of cases) {
      expect((await db().credentialAsset.findUniqueOrThrow({ where: { id: row.id } })).secretVersion, String(row.secretVersion)).toBe(expected);
    }
  });
});
