import "server-only";
import { notFound } from "next/navigation";
import { cache } from "react";
import { requireUser } from "@/lib/auth/session";
import type { Actor } from "@/lib/authz";
import { AppError } from "@/lib/errors";

/**
 * A page's main read, once per request however many layouts, pages and generateMetadata ask for it,
 * as `{ user, [key]: view }`. Forbidden and absent both render the 404 page.
 */
export function viewLoader<K extends string, V>(key: K, getOrThrow: (actor: Actor, id: string) => Promise<V>) {
  return cache(async (id: string): Promise<{ user: Actor } & Record<K, V>> => {
    const user = await requireUser();
    try {
      return { user, [key]: await getOrThrow(user, id) } as { user: Actor } & Record<K, V>;
    } catch (error) {
      if (error instanceof AppError && error.code === "NOT_FOUND") notFound();
      throw error;
    }
  });
}
