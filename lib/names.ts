import { z } from "zod";

/**
 * Characters nobody can see or that reorder what is shown: C0/C1 controls, soft hyphen, zero-width
 * space, word joiners, byte-order mark, and the bidi marks, embeddings, overrides and isolates. A name
 * holding one can look exactly like another one (or like something else) in every list, audit entry
 * and picker. ZWJ/ZWNJ (U+200C/U+200D) stay allowed: several scripts and emoji need them.
 */
// eslint-disable-next-line no-control-regex
const UNSEEN = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

export const UNSEEN_MESSAGE = "Names cannot contain control or invisible characters (such as tabs, zero-width spaces or text-direction marks).";

/** True when the text holds a character UNSEEN describes. */
export function hasUnseenCharacters(text: string): boolean {
  return UNSEEN.test(text);
}

/**
 * Every name a person gives something (folders, stores, assets, connections, tokens, service accounts,
 * people): trimmed, in Unicode NFC so "é" typed two ways is one name for the uniqueness checks, and free
 * of characters that cannot be seen. `required: false` leaves "empty" to the caller's own check.
 */
export function nameSchema({ max, empty = "Enter a name.", tooLong = `Names can be at most ${max} characters.`, required = true }: { max: number; empty?: string; tooLong?: string; required?: boolean }) {
  const base = z
    .string({ error: empty })
    .trim()
    .overwrite((s) => s.normalize("NFC"));
  return (required ? base.min(1, empty) : base).max(max, tooLong).refine((s) => !hasUnseenCharacters(s), UNSEEN_MESSAGE);
}
