import { z } from "zod";
import { apiHandler } from "@/lib/api/handler";
import { refreshStore } from "@/lib/connections/runtime";
import { idSchema } from "@/lib/folders/schemas";

export const dynamic = "force-dynamic";

/** Drops every value read from the store, on every running instance (administrators). */
export const POST = apiHandler({ params: z.object({ storeId: idSchema }) }, (ctx) => refreshStore(ctx, { storeId: ctx.params.storeId }));
