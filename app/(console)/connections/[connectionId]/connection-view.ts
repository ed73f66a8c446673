import "server-only";
import { notFound } from "next/navigation";
import { cache } from "react";
import { requireUser } from "@/lib/auth/session";
import { getConnectionViewOrThrow } from "@/lib/connections/queries";
import { AppError } from "@/lib/errors";

/** Forbidden and absent both render the 404 page. */
export const loadConnectionView = cache(async (connectionId: string) => {
  const user = await requireUser();
  try {
    return { user, connection: await getConnectionViewOrThrow(user, connectionId) };
  } catch (error) {
    if (error instanceof AppError && error.code === "NOT_FOUND") notFound();
    throw error;
  }
});
