import { defineRoute } from "@/lib/api/route";
import { openApiDocument, openApiOperation } from "./document";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

export const GET = defineRoute(openApiOperation, async () => openApiDocument());

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
