import { requireTenant } from "@/lib/actions/action";
import { defineRoute } from "@/lib/api/route";
import { listQuerySchema } from "@/lib/list-query";
import { storeListResponseSchema, toStoreDto } from "@/lib/stores/dto";
import { listStores } from "@/lib/stores/queries";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

export const GET = defineRoute(
  {
    method: "GET",
    path: "/stores",
    summary: "List credential stores",
    description: "Administrators only (anyone else, and every API token, gets 404). Metadata and health, never configuration.",
    tags: ["Stores"],
    access: { kind: "admin", permission: "stores.manage" },
    ...requireTenant("stores.manage", "Credential store"),
    query: listQuerySchema.pick({ q: true }),
    response: storeListResponseSchema,
    errors: [404],
  },
  async ({ actor, query }) => ({ stores: (await listStores(actor, query)).map(toStoreDto) }),
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
