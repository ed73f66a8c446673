import { z } from "zod";

/**
 * Characters nobody can see, or that reorder or break what is shown: controls, format characters
 * (zero-width space, soft hyphen, bidi marks and overrides, tag characters, BOM…), line and paragraph
 * separators, blank "filler" letters, the combining grapheme joiner and variation selectors. A name
 * holding one can look exactly like another name (or like something else) in every list, audit entry
 * and picker.
 */
// Each of these is a character of its own here, not part of a combined one.
// eslint-disable-next-line no-misleading-character-class
const UNSEEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\uffa0\ufe00-\ufe0f\u{e0100}-\u{e01ef}]/u;

/**
 * The exceptions writing needs: ZWNJ/ZWJ inside words of the scripts that shape with them (Arabic,
 * Persian, Syriac and the Indic scripts), ZWJ inside emoji sequences, and the emoji presentation
 * selector after an emoji. Removed before the check; anywhere else they are refused like the rest.
 */
const SHAPING = "\\p{Script=Arabic}\\p{Script=Syriac}\\p{Script=Devanagari}\\p{Script=Bengali}\\p{Script=Gurmukhi}\\p{Script=Gujarati}\\p{Script=Oriya}\\p{Script=Tamil}\\p{Script=Telugu}\\p{Script=Kannada}\\p{Script=Malayalam}\\p{Script=Sinhala}";
const WRITING_JOINERS = new RegExp(`(?<=[${SHAPING}])[\\u200c\\u200d](?=[${SHAPING}])|(?<=[\\p{Extended_Pictographic}\\p{Emoji_Modifier}\\ufe0f])\\u200d(?=\\p{Extended_Pictographic})|(?<=\\p{Extended_Pictographic})\\ufe0f`, "gu");

export const UNSEEN_MESSAGE = "Names cannot contain control or invisible characters (such as tabs, zero-width spaces or text-direction marks).";

/** True when the text holds a character UNSEEN describes, other than the joiners writing needs. */
export function hasUnseenCharacters(text: string): boolean {
  return UNSEEN.test(text.replace(WRITING_JOINERS, ""));
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
