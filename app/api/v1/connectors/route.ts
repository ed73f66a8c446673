import { defineRoute } from "@/lib/api/route";
import { connectorListResponseSchema, listConnectorDtos } from "@/lib/connectors/dto";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

export const GET = defineRoute(
  {
    method: "GET",
    path: "/connectors",
    summary: "List connectors",
    description: "Every kind of connection, with its fields and its operations' input JSON Schemas (the body's `input` of invoke).",
    tags: ["Connectors"],
    access: { kind: "authenticated" },
    response: connectorListResponseSchema,
  },
  async () => ({ connectors: listConnectorDtos() }),
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
