import type { z } from "zod";

/**
 * How a credential asset names a secret in one store kind: the words the asset form uses, and the
 * rules a reference must follow. Each provider's descriptor.ts carries one (`reference`); the
 * generic code that applies them is lib/assets/reference.ts. Client-safe: zod only.
 */

/** The versions a "stage or id" store can pin (AWS): the current one, one by label, one by ID. */
export const VERSION_KINDS = ["latest", "stage", "id"] as const;
export type VersionKind = (typeof VERSION_KINDS)[number];

/** One input of a version: its words, and the rule its value follows (the first failing check's message is shown). */
export type VersionInput = { label: string; help: string; placeholder: string; rule: z.ZodType<string> };

export type VersionRules =
  /** One optional field pins a version; empty means the latest. `label` also names a pinned version on the asset page. */
  | ({ mode: "single" } & VersionInput)
  /**
   * A version is the current one, or one chosen by a staging label or by its ID, each said
   * explicitly (stored as `stage:<label>` or `id:<version id>`).
   */
  | {
      mode: "stageOrId";
      /** How the current version is named on the asset page, e.g. "Current (AWSCURRENT)". */
      current: string;
      choices: { value: VersionKind; label: string; description: string }[];
      /** A version given without saying which kind it is. */
      unsaid: string;
      /** A version given while "current" is chosen. */
      notWithCurrent: string;
      stage: VersionInput;
      id: VersionInput;
    }
  /** The store has no versions to choose; `note` says so, and is the error for a version given anyway. */
  | { mode: "none"; note: string };

export type ReferenceRules = {
  /** Label of the field naming the secret. */
  nameLabel: string;
  /** Its label when the person types a value and Latch writes it there. */
  writeNameLabel: string;
  nameHelp: string;
  namePlaceholder: string;
  /** The secret's name in a sentence: "Enter another path." */
  nameNoun: string;
  /** The name as typed (trimmed) → the name stored; its first issue is the field's error. */
  name: z.ZodType<string>;
  /** The store matches names whatever their case (two assets differing in case name one secret). */
  caseInsensitive: boolean;
  version: VersionRules;
  /** Default keys for Credential assets (username, password) in multi-key secrets. */
  defaultKeys: { username: string; password: string };
  /** One line on how to write a reference, e.g. for a list of stores. */
  hint: string;
};

/** What the asset form shows: the rules' words, without their checks (plain data, sent to the browser). */
export type ReferenceView = Omit<ReferenceRules, "name" | "version"> & {
  version:
    | { mode: "single"; label: string; help: string; placeholder: string }
    | (Omit<Extract<VersionRules, { mode: "stageOrId" }>, "stage" | "id"> & { stage: Omit<VersionInput, "rule">; id: Omit<VersionInput, "rule"> })
    | { mode: "none"; note: string };
};

const words = ({ label, help, placeholder }: VersionInput) => ({ label, help, placeholder });

export function referenceView(rules: ReferenceRules): ReferenceView {
  const { name: _name, version, ...rest } = rules;
  const v =
    version.mode === "single"
      ? { mode: "single" as const, ...words(version) }
      : version.mode === "stageOrId"
        ? { ...version, stage: words(version.stage), id: words(version.id) }
        : version;
  return { ...rest, version: v };
}
