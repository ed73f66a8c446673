import { z } from "zod";
import { apiHandler } from "@/lib/api/handler";
import { invokeBodySchema, invokeConnection } from "@/lib/connections/runtime";
import { idSchema } from "@/lib/folders/schemas";

export const dynamic = "force-dynamic";

/** Runs one operation of the connection's connector; the response never carries a resolved secret. */
export const POST = apiHandler({ params: z.object({ connectionId: idSchema }), body: invokeBodySchema }, (ctx) =>
  invokeConnection(ctx, { connectionId: ctx.params.connectionId, operation: ctx.body.operation, input: ctx.body.input }),
);
