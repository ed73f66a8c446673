import { z } from "zod";
import { apiHandler } from "@/lib/api/handler";
import { refreshConnection } from "@/lib/connections/runtime";
import { idSchema } from "@/lib/folders/schemas";

export const dynamic = "force-dynamic";

/** Clears the connection's cached secrets on every running instance; the next use fetches fresh values. */
export const POST = apiHandler({ params: z.object({ connectionId: idSchema }) }, (ctx) => refreshConnection(ctx, { connectionId: ctx.params.connectionId }));
