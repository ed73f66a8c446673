/**
 * Whole numbers as forms and URLs send them: decimal digits (a sign, a decimal point and surrounding
 * blanks allowed, so that "6379.5" meets the schema's own "whole number" message) become a number;
 * anything else is left as it came, for `z.number()` to refuse. `z.coerce.number()`
 * would also read "0x10" as 16, "1e2" as 100, "" as 0, and, in a JSON body, `true` as 1 and `[5]` as 5.
 *
 *   page: z.preprocess(fromDecimalText, z.number().int().min(1).default(1))
 *
 * The JSON Schema of such a field (OpenAPI) is the inner number's, with its bounds; put a default inside,
 * as above, or the document loses it.
 */
export function fromDecimalText(value: unknown): unknown {
  return typeof value === "string" && /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*$/.test(value) ? Number(value) : value;
}
