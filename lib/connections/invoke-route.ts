import "server-only";
import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { idSchema } from "@/lib/folders/schemas";
import { limitInvoke } from "./rate-limits";
import { documentedInvokeBody, documentedInvokeResponse, invokeBodySchema, invokeConnection } from "./runtime";

/**
 * POST /api/v1/connections/{connectionId}/invoke. Defined here, not in its app/ route file, because
 * two servers serve it: Next's router (app/api/v1/connections/[connectionId]/invoke/route.ts) and,
 * for token-authenticated calls, server.mjs directly (lib/api/direct.ts). Both run this one handler.
 */
export const invokeRoute = defineRoute(
  {
    method: "POST",
    path: "/connections/{connectionId}/invoke",
    summary: "Run a connector operation",
    description:
      "Runs one operation of the connection's connector with its credentials, resolved on the connection owner's behalf. " +
      "The body names one of the connection's connector's operations and its `input` (one variant per operation below; GET /connectors lists which connector offers which). " +
      "A target that refuses the request answers 422 (bad SQL, a privilege the statement needs, a refused command); one that rejects the credentials 502; unreachable 503, and also a database that rolled the statement back for now and asks for it again (a deadlock, a serialization failure, a lock it could not get: send it again after Retry-After); too slow 504. The response never carries a resolved secret.",
    tags: ["Connections"],
    // The owner, not the caller, needs assets.use: the secrets are resolved on the owner's behalf.
    access: { kind: "folder", permission: "connections.use", on: "connection" },
    params: z.object({ connectionId: idSchema }),
    body: invokeBodySchema,
    documentedBody: documentedInvokeBody(),
    response: documentedInvokeResponse(),
    errors: [409, 429, 502, 503, 504],
    // Before the body is read and parsed: a caller past its rate costs no more than the token check.
    authorize: limitInvoke,
  },
  (ctx) => invokeConnection(ctx, { connectionId: ctx.params.connectionId, operation: ctx.body.operation, input: ctx.body.input }),
);
