import { defineRoute } from "@/lib/api/route";
import { connectorListResponseSchema, listConnectorDtos } from "@/lib/connectors/dto";

export const dynamic = "force-dynamic";

export const GET = defineRoute(
  {
    method: "GET",
    path: "/connectors",
    summary: "List connectors",
    description: "Every kind of connection, with its fields and its operations' input JSON Schemas (the body's `input` of invoke).",
    tags: ["Connectors"],
    response: connectorListResponseSchema,
  },
  async () => ({ connectors: listConnectorDtos() }),
);
