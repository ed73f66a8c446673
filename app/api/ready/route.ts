import { NextResponse } from "next/server";
import { checkReadiness } from "@/lib/health";

export const dynamic = "force-dynamic";

/** Readiness: the database is reachable and migrations are applied. */
export async function GET() {
  const { ready, checks, pending } = await checkReadiness();
  return NextResponse.json(
    { status: ready ? "ready" : "not_ready", checks, pending },
    { status: ready ? 200 : 503, headers: { "Cache-Control": "no-store" } },
  );
}
