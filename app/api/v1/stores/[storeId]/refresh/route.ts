import { z } from "zod";
import { requireTenant } from "@/lib/actions/action";
import { defineRoute } from "@/lib/api/route";
import { refreshStore } from "@/lib/connections/runtime";
import { idSchema } from "@/lib/folders/schemas";
import { storeRefreshResponseSchema } from "@/lib/stores/dto";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

/** Drops every value read from the store, on every running instance (administrators). */
export const POST = defineRoute(
  {
    method: "POST",
    path: "/stores/{storeId}/refresh",
    summary: "Refresh a credential store",
    description: "Drops every value read from the store, on every running instance. Administrators only.",
    tags: ["Stores"],
    access: { kind: "admin", permission: "stores.manage" },
    ...requireTenant("stores.manage", "Credential store"),
    params: z.object({ storeId: idSchema }),
    response: storeRefreshResponseSchema,
    errors: [429],
  },
  (ctx) => refreshStore(ctx, { storeId: ctx.params.storeId }),
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { GET, PUT, PATCH, DELETE, OPTIONS } = otherMethods("POST");
