import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { assetRefreshResponseSchema } from "@/lib/assets/dto";
import { refreshAsset } from "@/lib/connections/runtime";
import { idSchema } from "@/lib/folders/schemas";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

/** Drops the asset's cached value on every running instance. */
export const POST = defineRoute(
  {
    method: "POST",
    path: "/assets/{assetId}/refresh",
    summary: "Refresh an asset",
    description: "Drops the asset's cached value on every running instance; the next use reads it from its store again.",
    tags: ["Assets"],
    access: { kind: "folder", permission: "assets.use", on: "asset" },
    params: z.object({ assetId: idSchema }),
    response: assetRefreshResponseSchema,
    errors: [429],
  },
  (ctx) => refreshAsset(ctx, { assetId: ctx.params.assetId }),
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { GET, PUT, PATCH, DELETE, OPTIONS } = otherMethods("POST");
