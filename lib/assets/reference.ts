import "server-only";
import type { z } from "zod";
import { getProviderOrThrow } from "@/lib/vault/registry";
import type { ReferenceRules, VersionKind } from "@/lib/vault/reference";
import type { StoreKind } from "@/lib/vault/types";

/**
 * How an asset names its secret: the generic checks, applied with the rules of the store's kind
 * (each provider's descriptor carries them as `reference`; the asset form gets their words through
 * StoreOption.reference).
 *
 * Storage: `secretName` holds the path / name / id / Object; `secretVersion` holds the pinned version
 * (null: the latest). A "stage or id" version carries its kind explicitly: `stage:<label>` or `id:<version id>`.
 */

export { VERSION_KINDS, type VersionKind } from "@/lib/vault/reference";

const rulesOf = (kind: StoreKind | string): ReferenceRules => getProviderOrThrow(kind).reference;

/** Whether the store matches names whatever their case (two assets differing in case name one secret). */
export const caseInsensitiveNames = (kind: StoreKind | string) => rulesOf(kind).caseInsensitive;

export type ReferenceInput = { secretName: string; secretVersion: string; versionKind?: VersionKind | undefined };
export type CheckedReference = { secretName: string; secretVersion: string | null };
export type ReferenceCheck = { ok: true; value: CheckedReference } | { ok: false; fieldErrors: Record<string, string[]> };

/**
 * Checks a reference against its store kind's rules. `writing`: the person types the value, so the
 * version is always the new latest one and must be left empty.
 */
export function checkReference(kind: StoreKind | string, input: ReferenceInput, opts: { writing: boolean }): ReferenceCheck {
  const rules = rulesOf(kind);
  const fieldErrors: Record<string, string[]> = {};
  const fail = (field: string, message: string) => void (fieldErrors[field] ??= []).push(message);
  const firstIssue = (rule: z.ZodType<string>, value: string) => {
    const result = rule.safeParse(value);
    return result.success ? null : result.error.issues[0]!.message;
  };

  const name = rules.name.safeParse(input.secretName.trim());
  if (!name.success) fail("secretName", name.error.issues[0]!.message);

  const version = input.secretVersion.trim();
  const versionKind = input.versionKind;
  let storedVersion: string | null = null;
  const spec = rules.version;
  if (opts.writing) {
    if (version || (versionKind && versionKind !== "latest")) fail(spec.mode === "stageOrId" && !version ? "versionKind" : "secretVersion", "A value you type is always the latest version; leave the version empty.");
  } else if (spec.mode === "none") {
    if (version) fail("secretVersion", spec.note);
  } else if (spec.mode === "single") {
    const problem = version ? firstIssue(spec.rule, version) : null;
    if (problem) fail("secretVersion", problem);
    storedVersion = version || null;
  } else if (!versionKind || versionKind === "latest") {
    if (version && !versionKind) fail("versionKind", spec.unsaid);
    else if (version) fail("secretVersion", spec.notWithCurrent);
  } else {
    const problem = firstIssue(spec[versionKind].rule, version);
    if (problem) fail("secretVersion", problem);
    storedVersion = `${versionKind}:${version}`;
  }
  if (Object.keys(fieldErrors).length > 0) return { ok: false, fieldErrors };
  return { ok: true, value: { secretName: name.data!, secretVersion: storedVersion } };
}

/** A stored version as the form edits it. */
export function splitVersion(kind: StoreKind | string | null | undefined, stored: string | null): { versionKind: VersionKind; secretVersion: string } {
  if (!stored) return { versionKind: "latest", secretVersion: "" };
  if (kind && rulesOf(kind).version.mode === "stageOrId") {
    const m = /^(stage|id):(.*)$/i.exec(stored);
    if (m) return { versionKind: m[1]!.toLowerCase() as VersionKind, secretVersion: m[2]! };
  }
  return { versionKind: "latest", secretVersion: stored };
}

/** A stored version in words: "Latest", "Version 3", "Staging label AWSPREVIOUS", "Version ID …". */
export function describeVersion(kind: StoreKind | string | null | undefined, stored: string | null): { label: string; value: string | null } {
  const version = kind ? rulesOf(kind).version : null;
  if (version?.mode === "stageOrId") {
    if (!stored) return { label: version.current, value: null };
    const split = splitVersion(kind, stored);
    return { label: version[split.versionKind === "stage" ? "stage" : "id"].label, value: split.secretVersion };
  }
  if (!stored) return { label: "Latest", value: null };
  return { label: version?.mode === "single" ? version.label : "Version", value: stored };
}
