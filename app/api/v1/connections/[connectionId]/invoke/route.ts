import { invokeRoute } from "@/lib/connections/invoke-route";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

/** Runs one operation of the connection's connector; the response never carries a resolved secret (lib/connections/invoke-route.ts). */
export const POST = invokeRoute;

/** The other methods: a JSON 405 naming what this address takes. */
export const { GET, PUT, PATCH, DELETE, OPTIONS } = otherMethods("POST");
