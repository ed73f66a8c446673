import { z } from "zod";
import type { StoreKind } from "@/lib/vault/types";

/**
 * How an asset names its secret, per store kind: what the fields are called, which exist, and the
 * rules a reference must follow. Shared by the asset form (labels, help) and the server (checks).
 *
 * Storage: `secretName` holds the path / name / id / Object; `secretVersion` holds the pinned version
 * (null: the latest). AWS versions carry their kind explicitly: `stage:<label>` or `id:<version id>`.
 */

/** AWS only: which version of the secret. Other kinds pin by one version field, or not at all. */
export const VERSION_KINDS = ["latest", "stage", "id"] as const;
export type VersionKind = (typeof VERSION_KINDS)[number];

export type ReferenceSpec = {
  /** Label of the field naming the secret, and how to write it. */
  nameLabel: string;
  /** Label when the person types a value and Latch writes it there. */
  writeNameLabel: string;
  nameHelp: string;
  namePlaceholder: string;
  /** How a version is pinned: one field, AWS's stage-or-id choice, or not at all. */
  version: { mode: "single"; label: string; help: string; placeholder: string } | { mode: "aws" } | { mode: "none"; note: string };
};

export const REFERENCE_SPECS: Record<StoreKind, ReferenceSpec> = {
  latch: {
    nameLabel: "Secret name",
    writeNameLabel: "Secret name",
    nameHelp: "The name of a secret already kept in the Latch Database, e.g. finance/payroll-db.",
    namePlaceholder: "finance/payroll-db",
    version: { mode: "single", label: "Version", help: "A version number (1, 2, 3, …). Leave empty to always use the latest.", placeholder: "Latest" },
  },
  hashicorp: {
    nameLabel: "Path",
    writeNameLabel: "Path to write to",
    nameHelp: "The secret's path below the store's KV mount, without the mount, e.g. prod/payroll-db.",
    namePlaceholder: "prod/payroll-db",
    version: { mode: "single", label: "Version", help: "KV version 2 mounts only: a version number such as 3. Leave empty to always use the latest.", placeholder: "Latest" },
  },
  azure: {
    nameLabel: "Secret name",
    writeNameLabel: "Secret name to write to",
    nameHelp: "The Key Vault secret's name: 1–127 letters, digits and hyphens, e.g. payroll-db-password.",
    namePlaceholder: "payroll-db-password",
    version: { mode: "single", label: "Version ID", help: "The 32-character version ID from the secret's versions list. Leave empty to always use the latest.", placeholder: "Latest" },
  },
  aws: {
    nameLabel: "Secret ID",
    writeNameLabel: "Secret name to write to",
    nameHelp: "The secret's name (e.g. prod/payroll-db) or its full ARN.",
    namePlaceholder: "prod/payroll-db",
    version: { mode: "aws" },
  },
  cyberark: {
    nameLabel: "Object",
    writeNameLabel: "Object",
    nameHelp: "The account's Object name in the store's safe, e.g. Operating System-UnixSSH-db01-root.",
    namePlaceholder: "Operating System-UnixSSH-db01-root",
    version: { mode: "none", note: "CyberArk's Credential Provider always returns the account's current password; there are no versions to choose." },
  },
};

export const AWS_VERSION_CHOICES: { value: VersionKind; label: string; description: string }[] = [
  { value: "latest", label: "Current", description: "Always the version labelled AWSCURRENT." },
  { value: "stage", label: "Staging label", description: "The version carrying a label, e.g. AWSPREVIOUS." },
  { value: "id", label: "Version ID", description: "One fixed version, by its ID." },
];

/** Key Vault and CyberArk match names whatever their case; the other stores do not. */
export const caseInsensitiveNames = (kind: StoreKind) => kind === "azure" || kind === "cyberark";

const WHOLE_NUMBER = /^[1-9]\d{0,9}$/;

const nameRules: Record<StoreKind, z.ZodType<string>> = {
  latch: z.string().min(1, "Enter the name of the secret.").max(500, "Names can be at most 500 characters."),
  hashicorp: z
    .string()
    .transform((p) => p.replace(/^\/+|\/+$/g, ""))
    .pipe(
      z
        .string()
        .min(1, "Enter the secret's path below the KV mount, e.g. prod/payroll-db.")
        .max(500, "Paths can be at most 500 characters.")
        .refine((p) => p.split("/").every((seg) => seg !== "" && seg !== "." && seg !== ".."), "A path cannot have empty, “.” or “..” parts, e.g. prod/payroll-db.")
        .refine((p) => !/\s/.test(p), "A Vault path cannot contain spaces."),
    ),
  azure: z
    .string()
    .min(1, "Enter the Key Vault secret's name.")
    .regex(/^[0-9a-zA-Z-]{1,127}$/, "Key Vault secret names are 1–127 letters, digits and hyphens, e.g. payroll-db-password."),
  aws: z
    .string()
    .min(1, "Enter the secret's name or ARN.")
    .max(2048, "A secret ID can be at most 2048 characters.")
    .refine(
      (v) => (v.startsWith("arn:") ? /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/.test(v) : /^[\w/+=.@-]{1,512}$/.test(v)),
      "A secret ID is a name of letters, digits and /_+=.@- (e.g. prod/payroll-db), or an ARN such as arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/payroll-db-AbCdEf.",
    ),
  cyberark: z
    .string()
    .min(1, "Enter the account's Object name.")
    .max(500, "An Object name can be at most 500 characters.")
    .refine((v) => !/[+&%;]/.test(v), "CyberArk's Credential Provider cannot look up names containing + & % or ;. Rename the account in CyberArk."),
};

const singleVersionRules: Partial<Record<StoreKind, [RegExp, string]>> = {
  latch: [WHOLE_NUMBER, "A version is a whole number such as 3; leave it empty for the latest."],
  hashicorp: [WHOLE_NUMBER, "A Vault version is a whole number such as 3; leave it empty for the latest."],
  azure: [/^[0-9a-zA-Z]{1,64}$/, "A Key Vault version ID is letters and digits (32 of them), as shown in the secret's versions list; leave it empty for the latest."],
};

const AWS_STAGE = /^[\w+=,.@-]{1,256}$/;
const AWS_VERSION_ID = /^[\w-]{32,64}$/;

export type ReferenceInput = { secretName: string; secretVersion: string; versionKind?: VersionKind | undefined };
export type CheckedReference = { secretName: string; secretVersion: string | null };
export type ReferenceCheck = { ok: true; value: CheckedReference } | { ok: false; fieldErrors: Record<string, string[]> };

/**
 * Checks a reference against its store kind's rules. `writing`: the person types the value, so the
 * version is always the new latest one and must be left empty.
 */
export function checkReference(kind: StoreKind, input: ReferenceInput, opts: { writing: boolean }): ReferenceCheck {
  const fieldErrors: Record<string, string[]> = {};
  const fail = (field: string, message: string) => void (fieldErrors[field] ??= []).push(message);

  const name = nameRules[kind].safeParse(input.secretName.trim());
  if (!name.success) fail("secretName", name.error.issues[0]!.message);

  const version = input.secretVersion.trim();
  const versionKind = input.versionKind;
  let storedVersion: string | null = null;
  const spec = REFERENCE_SPECS[kind].version;
  if (opts.writing) {
    if (version || (versionKind && versionKind !== "latest")) fail(spec.mode === "aws" && !version ? "versionKind" : "secretVersion", "A value you type is always the latest version; leave the version empty.");
  } else if (spec.mode === "none") {
    if (version) fail("secretVersion", spec.note);
  } else if (spec.mode === "single") {
    const [rule, message] = singleVersionRules[kind]!;
    if (version && !rule.test(version)) fail("secretVersion", message);
    storedVersion = version || null;
  } else if (!versionKind || versionKind === "latest") {
    if (version && !versionKind) fail("versionKind", "Choose whether the version is a staging label or a version ID.");
    else if (version) fail("secretVersion", "Leave the version empty to use the current version, or choose a staging label or version ID.");
  } else if (versionKind === "stage") {
    if (!version) fail("secretVersion", "Enter the staging label, e.g. AWSPREVIOUS.");
    else if (!AWS_STAGE.test(version)) fail("secretVersion", "A staging label is 1–256 letters, digits and _+=,.@-, e.g. AWSPREVIOUS.");
    storedVersion = `stage:${version}`;
  } else {
    if (!version) fail("secretVersion", "Enter the version ID.");
    else if (!AWS_VERSION_ID.test(version)) fail("secretVersion", "A version ID is 32–64 letters, digits and hyphens, such as a UUID.");
    storedVersion = `id:${version}`;
  }
  if (Object.keys(fieldErrors).length > 0) return { ok: false, fieldErrors };
  return { ok: true, value: { secretName: name.data!, secretVersion: storedVersion } };
}

/** A stored version as the form edits it. */
export function splitVersion(kind: StoreKind | null | undefined, stored: string | null): { versionKind: VersionKind; secretVersion: string } {
  if (!stored) return { versionKind: "latest", secretVersion: "" };
  if (kind === "aws") {
    const m = /^(stage|id):(.*)$/i.exec(stored);
    if (m) return { versionKind: m[1]!.toLowerCase() as VersionKind, secretVersion: m[2]! };
  }
  return { versionKind: "latest", secretVersion: stored };
}

/** A stored version in words: "Latest", "Version 3", "Staging label AWSPREVIOUS", "Version ID …". */
export function describeVersion(kind: StoreKind | null | undefined, stored: string | null): { label: string; value: string | null } {
  if (!stored) return { label: kind === "aws" ? "Current (AWSCURRENT)" : "Latest", value: null };
  if (kind === "aws") {
    const { versionKind, secretVersion } = splitVersion(kind, stored);
    return { label: versionKind === "stage" ? "Staging label" : "Version ID", value: secretVersion };
  }
  return { label: kind === "azure" ? "Version ID" : "Version", value: stored };
}
