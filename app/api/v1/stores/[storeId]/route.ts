import { z } from "zod";
import { requireTenant } from "@/lib/actions/action";
import { defineRoute } from "@/lib/api/route";
import { idSchema } from "@/lib/folders/schemas";
import { storeResponseSchema, toStoreDto } from "@/lib/stores/dto";
import { getStoreSummaryOrThrow } from "@/lib/stores/queries";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

export const GET = defineRoute(
  {
    method: "GET",
    path: "/stores/{storeId}",
    summary: "Get a credential store",
    description: "Administrators only. Metadata and health, never configuration or its secrets.",
    tags: ["Stores"],
    access: { kind: "admin", permission: "stores.manage" },
    ...requireTenant("stores.manage", "Credential store"),
    params: z.object({ storeId: idSchema }),
    response: storeResponseSchema,
  },
  async ({ actor, params }) => ({ store: toStoreDto(await getStoreSummaryOrThrow(actor, params.storeId)) }),
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
