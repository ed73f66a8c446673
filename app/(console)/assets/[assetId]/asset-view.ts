import "server-only";
import { notFound } from "next/navigation";
import { cache } from "react";
import { getAssetViewOrThrow } from "@/lib/assets/queries";
import { requireUser } from "@/lib/auth/session";
import { AppError } from "@/lib/errors";

/** Forbidden and absent both render the 404 page. */
export const loadAssetView = cache(async (assetId: string) => {
  const user = await requireUser();
  try {
    return { user, asset: await getAssetViewOrThrow(user, assetId) };
  } catch (error) {
    if (error instanceof AppError && error.code === "NOT_FOUND") notFound();
    throw error;
  }
});
