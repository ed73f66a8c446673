import { z } from "zod";
import { fromDecimalText } from "@/lib/whole-number";

/** Search text: PostgreSQL cannot take a NUL in a parameter, and names are stored in NFC without control characters (lib/names.ts). */
export const searchTextSchema = (max: number) =>
  z
    .string()
    .trim()
    .overwrite((q) => q.normalize("NFC"))
    .max(max, `Search text can be at most ${max} characters.`)
    .refine((q) => !/[\u0000-\u001f\u007f]/.test(q), "Search text cannot contain control characters.");

/** The longest search text a list takes; the search box stops there (a page given more searches nothing). */
export const SEARCH_TEXT_MAX = 200;

/** Search + page parameters shared by every list (pages and REST). */
export const listQuerySchema = z.object({
  q: searchTextSchema(SEARCH_TEXT_MAX).optional().default(""),
  page: z.preprocess(fromDecimalText, z.number().int().min(1).max(100000).default(1)),
  pageSize: z.preprocess(fromDecimalText, z.number().int().min(1).max(100).default(20)),
});
export type ListQuery = z.infer<typeof listQuerySchema>;

type RawParams = Record<string, string | string[] | undefined>;

/** For pages: a hand-edited URL falls back to sensible values instead of failing. */
export function parseListQuery(raw: RawParams, pageSize = 20): ListQuery {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const q = searchTextSchema(SEARCH_TEXT_MAX).catch("").parse(first(raw.q) ?? "");
  const page = z.preprocess(fromDecimalText, z.number().int().min(1).max(100000)).catch(1).parse(first(raw.page) ?? 1);
  return { q, page, pageSize };
}
