import { invokeRoute } from "@/lib/connections/invoke-route";

export const dynamic = "force-dynamic";

/** Runs one operation of the connection's connector; the response never carries a resolved secret (lib/connections/invoke-route.ts). */
export const POST = invokeRoute;
