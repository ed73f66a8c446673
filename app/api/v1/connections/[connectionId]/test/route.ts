import { z } from "zod";
import { apiHandler } from "@/lib/api/handler";
import { reconnectConnection } from "@/lib/connections/mutations";
import { idSchema } from "@/lib/folders/schemas";

export const dynamic = "force-dynamic";

/** Connects with the saved settings and reports; the connection's status is updated either way. */
export const POST = apiHandler({ params: z.object({ connectionId: idSchema }) }, (ctx) => reconnectConnection(ctx, { connectionId: ctx.params.connectionId }));
