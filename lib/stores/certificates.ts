import "server-only";
import type { ActionContext } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { assertTenant, type Actor } from "@/lib/authz";
import { db } from "@/lib/db";
import { AppError, notFound } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { StoreError } from "@/lib/vault/errors";
import { generateClientCertificate, publicCertificateOf } from "@/lib/vault/providers/azure/certificate";
import { openStoreSecrets, sealStoreSecrets } from "./client";

type Ctx = Pick<ActionContext, "actor" | "requestId">;

async function azureStoreOrThrow(storeId: string) {
  const store = isUuid(storeId) ? await db().credentialStore.findUnique({ where: { id: storeId } }) : null;
  if (!store || store.kind !== "azure") throw notFound("Credential store");
  return store;
}

/**
 * Creates the key pair for Azure's certificate credential inside Latch: the private key is sealed
 * with the store's other secrets and never leaves; the admin downloads only the public certificate
 * to upload to the app registration.
 */
export async function generateAzureCertificate(ctx: Ctx, input: { storeId: string }) {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  const store = await azureStoreOrThrow(input.storeId);
  const cert = generateClientCertificate({ commonName: `latch-${store.name}`.slice(0, 64), validDays: 730 });
  return db().$transaction(async (tx) => {
    const { certificatePassword: _dropped, ...secrets } = await openStoreSecrets(store, tx);
    await tx.credentialStore.update({
      where: { id: store.id },
      data: {
        config: { ...(store.config as object), auth: "certificate" },
        ...(await sealStoreSecrets(store.id, { ...secrets, certificatePem: cert.credentialPem }, tx)),
      },
    });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "store.certificate.generate",
      target: { type: "store", id: store.id, label: store.name },
      folderId: store.folderId,
      requestId: ctx.requestId,
      details: { thumbprint: cert.thumbprintSha1Hex, notAfter: cert.notAfter.toISOString() },
    });
    return { thumbprint: cert.thumbprintSha1Hex, notAfter: cert.notAfter };
  });
}

/** The public half of the store's certificate credential (the certificate its private key belongs to), for download. */
export async function getAzurePublicCertificate(actor: Actor, storeId: string) {
  assertTenant(actor, "stores.manage", "Credential store");
  const store = await azureStoreOrThrow(storeId);
  const secrets = await openStoreSecrets(store);
  let cert: ReturnType<typeof publicCertificateOf>;
  try {
    cert = publicCertificateOf(secrets.certificatePem, secrets.certificatePassword);
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    throw new AppError("CONFLICT", `The stored certificate cannot be offered for download: ${error.message} Or generate a new key pair in Latch.`);
  }
  if (!cert) throw new AppError("NOT_FOUND", "This store has no certificate yet. Generate one or upload one first.");
  return { name: store.name, pem: cert.pem, der: cert.der, thumbprint: cert.thumbprintSha1Hex, notAfter: cert.notAfter };
}
