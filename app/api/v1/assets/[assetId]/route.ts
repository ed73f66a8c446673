import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { assetResponseSchema, toAssetDto } from "@/lib/assets/dto";
import { getAssetViewOrThrow } from "@/lib/assets/queries";
import { idSchema } from "@/lib/folders/schemas";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

export const GET = defineRoute(
  {
    method: "GET",
    path: "/assets/{assetId}",
    summary: "Get an asset",
    description: "Metadata, and the value of Text, Integer and Boolean assets. A Credential's or Secret's value is never returned.",
    tags: ["Assets"],
    access: { kind: "folder", permission: "assets.read", on: "asset" },
    params: z.object({ assetId: idSchema }),
    response: assetResponseSchema,
  },
  async ({ actor, params }) => ({ asset: toAssetDto(await getAssetViewOrThrow(actor, params.assetId)) }),
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
