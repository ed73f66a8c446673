import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { connectionResponseSchema, toConnectionDto } from "@/lib/connections/dto";
import { getConnectionViewOrThrow } from "@/lib/connections/queries";
import { idSchema } from "@/lib/folders/schemas";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

export const GET = defineRoute(
  {
    method: "GET",
    path: "/connections/{connectionId}",
    summary: "Get a connection",
    description: "Settings without secrets; each secret field says where its value comes from (an asset, a sealed typed value, or nothing).",
    tags: ["Connections"],
    access: { kind: "folder", permission: "connections.read", on: "connection" },
    params: z.object({ connectionId: idSchema }),
    response: connectionResponseSchema,
  },
  async ({ actor, params }) => ({ connection: toConnectionDto(await getConnectionViewOrThrow(actor, params.connectionId)) }),
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
