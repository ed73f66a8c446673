import { defineRoute } from "@/lib/api/route";
import { openApiDocument, openApiOperation } from "./document";

export const dynamic = "force-dynamic";

export const GET = defineRoute(openApiOperation, async () => openApiDocument());
