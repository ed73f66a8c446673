import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { connectionRefreshResponseSchema } from "@/lib/connections/dto";
import { refreshConnection } from "@/lib/connections/runtime";
import { idSchema } from "@/lib/folders/schemas";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

/** Clears the connection's cached secrets on every running instance; the next use fetches fresh values. */
export const POST = defineRoute(
  {
    method: "POST",
    path: "/connections/{connectionId}/refresh",
    summary: "Refresh a connection's credentials",
    description: "Clears the connection's cached secrets on every running instance; the next use fetches fresh values.",
    tags: ["Connections"],
    access: { kind: "folder", permission: "connections.use", on: "connection" },
    params: z.object({ connectionId: idSchema }),
    response: connectionRefreshResponseSchema,
    errors: [429],
  },
  (ctx) => refreshConnection(ctx, { connectionId: ctx.params.connectionId }),
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { GET, PUT, PATCH, DELETE, OPTIONS } = otherMethods("POST");
