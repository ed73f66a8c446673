import "server-only";
import { notFound } from "next/navigation";
import { cache } from "react";
import { requireUser } from "@/lib/auth/session";
import { AppError } from "@/lib/errors";
import { getStoreViewOrThrow } from "@/lib/stores/queries";

/** Shared by the store's layout and page; an unknown store renders the 404 page. */
export const loadStoreView = cache(async (storeId: string) => {
  const user = await requireUser();
  try {
    return { user, store: await getStoreViewOrThrow(user, storeId) };
  } catch (error) {
    if (error instanceof AppError && error.code === "NOT_FOUND") notFound();
    throw error;
  }
});
