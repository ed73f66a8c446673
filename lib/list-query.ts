import { z } from "zod";

/** Search + page parameters shared by every list (pages and REST). */
export const listQuerySchema = z.object({
  q: z.string().trim().max(200, "Search text can be at most 200 characters.").optional().default(""),
  page: z.coerce.number().int().min(1).max(100000).optional().default(1),
  pageSize: z.coerce.number().int().min(1).max(100).optional().default(20),
});
export type ListQuery = z.infer<typeof listQuerySchema>;

type RawParams = Record<string, string | string[] | undefined>;

/** For pages: a hand-edited URL falls back to sensible values instead of failing. */
export function parseListQuery(raw: RawParams, pageSize = 20): ListQuery {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const q = z.string().trim().max(200).catch("").parse(first(raw.q) ?? "");
  const page = z.coerce.number().int().min(1).max(100000).catch(1).parse(first(raw.page) ?? 1);
  return { q, page, pageSize };
}
