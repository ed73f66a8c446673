import { z } from "zod";
import { defineRoute } from "@/lib/api/route";
import { assetListResponseSchema, toAssetSummaryDto } from "@/lib/assets/dto";
import { listAssets } from "@/lib/assets/queries";
import { assetListQuerySchema } from "@/lib/assets/schemas";
import { idSchema } from "@/lib/folders/schemas";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

export const GET = defineRoute(
  {
    method: "GET",
    path: "/folders/{folderId}/assets",
    summary: "List a folder's assets",
    description: "Searched by name or description (q), filtered by type, paged. Metadata only.",
    tags: ["Assets"],
    access: { kind: "folder", permission: "assets.read", on: "folder" },
    params: z.object({ folderId: idSchema }),
    query: assetListQuerySchema,
    response: assetListResponseSchema,
  },
  async ({ actor, params, query }) => {
    const { rows, total } = await listAssets(actor, params.folderId, query);
    return { assets: rows.map(toAssetSummaryDto), total, page: query.page, pageSize: query.pageSize };
  },
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
