import { z } from "zod";
import { requireTenant } from "@/lib/actions/action";
import { defineRoute } from "@/lib/api/route";
import { idSchema } from "@/lib/folders/schemas";
import { getStorePublicCertificateOrThrow } from "@/lib/stores/certificates";
import { otherMethods } from "@/lib/api/handler";

export const dynamic = "force-dynamic";

/** The public certificate of a store's certificate credential (Azure Key Vault): `.cer` (DER) or PEM. Never the key. */
export const GET = defineRoute(
  {
    method: "GET",
    path: "/stores/{storeId}/certificate",
    summary: "Download a store's public certificate",
    description:
      "The public certificate of a store's certificate credential, for store kinds whose key pair Latch can generate (Azure Key Vault: to upload to the app registration). Never the private key. Administrators only.",
    tags: ["Stores"],
    access: { kind: "admin", permission: "stores.manage" },
    ...requireTenant("stores.manage", "Credential store"),
    params: z.object({ storeId: idSchema }),
    query: z.object({ format: z.enum(["cer", "pem"]).default("cer") }),
    // A stored certificate that cannot be offered for download (lib/stores/certificates.ts).
    errors: [409],
    response: {
      raw: {
        "200": {
          description: "The certificate, as an attachment.",
          content: {
            "application/pkix-cert": { schema: { type: "string", contentMediaType: "application/pkix-cert" } },
            "application/x-pem-file": { schema: { type: "string" } },
          },
        },
      },
    },
  },
  async ({ actor, params, query }) => {
    const cert = await getStorePublicCertificateOrThrow(actor, params.storeId);
    const base = cert.name.replace(/[^A-Za-z0-9._-]+/g, "-").toLowerCase() || "latch";
    const body = query.format === "pem" ? cert.pem : new Uint8Array(cert.der);
    return new Response(body, {
      headers: {
        "Content-Type": query.format === "pem" ? "application/x-pem-file" : "application/pkix-cert",
        "Content-Disposition": `attachment; filename="${base}.${query.format === "pem" ? "pem" : "cer"}"`,
      },
    });
  },
);

/** The other methods: a JSON 405 naming what this address takes. */
export const { POST, PUT, PATCH, DELETE, OPTIONS } = otherMethods("GET");
