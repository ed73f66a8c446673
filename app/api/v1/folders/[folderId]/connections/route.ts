import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { connectionListResponseSchema, toConnectionSummaryDto } from "@/lib/connections/dto";
import { listConnections } from "@/lib/connections/queries";
import { idSchema } from "@/lib/folders/schemas";
import { listQuerySchema } from "@/lib/list-query";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

export const GET = defineRoute(
  {
    method: "GET",
    path: "/folders/{folderId}/connections",
    summary: "List a folder's connections",
    description: "Searched by name (q), paged.",
    tags: ["Connections"],
    access: { kind: "folder", permission: "connections.read", on: "folder" },
    params: z.object({ folderId: idSchema }),
    query: listQuerySchema,
    response: connectionListResponseSchema,
  },
  async ({ actor, params, query }) => {
    const { rows, total } = await listConnections(actor, params.folderId, query);
    return { connections: rows.map(toConnectionSummaryDto), total, page: query.page, pageSize: query.pageSize };
  },
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
