import { z } from "zod";
import { apiHandler } from "@/lib/api/handler";
import { refreshAsset } from "@/lib/connections/runtime";
import { idSchema } from "@/lib/folders/schemas";

export const dynamic = "force-dynamic";

/** Drops the asset's cached value on every running instance. */
export const POST = apiHandler({ params: z.object({ assetId: idSchema }) }, (ctx) => refreshAsset(ctx, { assetId: ctx.params.assetId }));
