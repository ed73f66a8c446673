import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { invokeResponseSchema } from "@/lib/connections/dto";
import { documentedInvokeBody, invokeBodySchema, invokeConnection } from "@/lib/connections/runtime";
import { idSchema } from "@/lib/folders/schemas";

export const dynamic = "force-dynamic";

/** Runs one operation of the connection's connector; the response never carries a resolved secret. */
export const POST = defineRoute(
  {
    method: "POST",
    path: "/connections/{connectionId}/invoke",
    summary: "Run a connector operation",
    description:
      "Runs one operation of the connection's connector with its credentials, resolved on the connection owner's behalf. " +
      "The body names one of the connection's connector's operations and its `input` (one variant per operation below; GET /connectors lists which connector offers which). " +
      "A target that refuses the request answers 422; one that rejects the credentials 502; unreachable 503; too slow 504. The response never carries a resolved secret.",
    tags: ["Connections"],
    params: z.object({ connectionId: idSchema }),
    body: invokeBodySchema,
    documentedBody: documentedInvokeBody(),
    response: invokeResponseSchema,
    errors: [409, 429, 502, 503, 504],
  },
  (ctx) => invokeConnection(ctx, { connectionId: ctx.params.connectionId, operation: ctx.body.operation, input: ctx.body.input }),
);
