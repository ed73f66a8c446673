import { unknownApiPath } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

/**
 * Any /api/v1 address no route serves: a JSON 404 with the API's headers and a request id, not
 * the console's HTML page. Not an operation, so not in the OpenAPI document (lib/api/openapi.test.ts).
 */
export const GET = unknownApiPath;
export const POST = unknownApiPath;
export const PUT = unknownApiPath;
export const PATCH = unknownApiPath;
export const DELETE = unknownApiPath;
export const OPTIONS = unknownApiPath;
