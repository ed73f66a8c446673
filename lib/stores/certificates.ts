import "server-only";
import type { CredentialStore, Prisma } from "@prisma/client";
import type { ActionContext } from "@/lib/actions/action";
import { recordAuditEvent } from "@/lib/audit/record";
import { assertTenant, type Actor } from "@/lib/authz";
import { db, type Db } from "@/lib/db";
import { AppError, notFound } from "@/lib/errors";
import { isUuid } from "@/lib/ids";
import { StoreError } from "@/lib/vault/errors";
import { getProviderOrThrow, isStoreKind } from "@/lib/vault/registry";
import type { CertificateCredentialSupport } from "@/lib/vault/types";
import { openStoreSecrets, sealStoreSecrets } from "./client";

type Ctx = Pick<ActionContext, "actor" | "requestId">;

/** The store, if its kind lets Latch make its certificate credential; not found otherwise. */
async function certificateStoreOrThrow(storeId: string, client: Db = db(), lock = false) {
  if (lock && isUuid(storeId)) await client.$queryRaw`SELECT id FROM credential_stores WHERE id = ${storeId}::uuid FOR UPDATE`;
  const store = isUuid(storeId) ? await client.credentialStore.findUnique({ where: { id: storeId } }) : null;
  const provider = store && isStoreKind(store.kind) ? getProviderOrThrow(store.kind) : undefined;
  const support = provider?.certificateCredential;
  if (!store || !provider) throw notFound("Credential store");
  // Only administrators get here (every caller checks stores.manage first), so the store may be named as there.
  if (!support) throw new AppError("NOT_FOUND", `${store.isBuiltIn ? "The built-in store" : `A ${provider.label} store`} has no certificate credential: only Azure Key Vault stores sign in with one Latch can generate.`);
  return { store, support };
}

/**
 * Creates the key pair of the store's certificate credential inside Latch: the private key is sealed
 * with the store's other secrets and never leaves; the admin downloads only the public certificate
 * (for Azure: to upload to the app registration).
 */
export async function generateStoreCertificate(ctx: Ctx, input: { storeId: string }) {
  assertTenant(ctx.actor, "stores.manage", "Credential store");
  return db().$transaction(async (tx) => {
    // Read under the row lock: the new credential is added to the settings as they are now, so an
    // edit saved at the same moment (a new address, say) is neither undone nor mixed with this.
    const { store, support } = await certificateStoreOrThrow(input.storeId, tx, true);
    const made = support.generate({ config: (store.config ?? {}) as Record<string, unknown>, secrets: await openStoreSecrets(store, tx), commonName: `latch-${store.name}`.slice(0, 64) });
    await tx.credentialStore.update({
      where: { id: store.id },
      // A new key pair is a change of settings: an edit form loaded before it must not undo it.
      data: { config: made.config as Prisma.InputJsonValue, settingsVersion: { increment: 1 }, ...(await sealStoreSecrets(store.id, made.secrets, tx)) },
    });
    await recordAuditEvent(tx, {
      actor: ctx.actor,
      action: "store.certificate.generate",
      target: { type: "store", id: store.id, label: store.name },
      folderId: store.folderId,
      requestId: ctx.requestId,
      details: { thumbprint: made.thumbprint, notAfter: made.notAfter.toISOString() },
    });
    return { thumbprint: made.thumbprint, notAfter: made.notAfter };
  });
}

/** The public half of the store's certificate credential, none, or why the stored one cannot be read. */
async function readPublicCertificate(store: CredentialStore, support: CertificateCredentialSupport) {
  try {
    return { cert: support.publicCertificate(await openStoreSecrets(store)), problem: null };
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    return { cert: null, problem: `The stored certificate cannot be offered for download: ${error.message} Or generate a new key pair in Latch.` };
  }
}

/** The public half of the store's certificate credential (the certificate its private key belongs to), for download. */
export async function getStorePublicCertificateOrThrow(actor: Actor, storeId: string) {
  assertTenant(actor, "stores.manage", "Credential store");
  const { store, support } = await certificateStoreOrThrow(storeId);
  const { cert, problem } = await readPublicCertificate(store, support);
  if (problem) throw new AppError("CONFLICT", problem);
  if (!cert) throw new AppError("NOT_FOUND", "This store has no certificate yet. Generate one or upload one first.");
  return { name: store.name, pem: cert.pem, der: cert.der, thumbprint: cert.thumbprintSha1Hex, notAfter: cert.notAfter };
}

/**
 * What the store page shows of the certificate credential: the certificate there is (or none), why a
 * stored one cannot be read, and the other way the store signs in now, which a new key pair replaces.
 */
export async function getStoreCertificateStateOrThrow(actor: Actor, storeId: string) {
  assertTenant(actor, "stores.manage", "Credential store");
  const { store, support } = await certificateStoreOrThrow(storeId);
  const { cert, problem } = await readPublicCertificate(store, support);
  return {
    current: cert ? { thumbprint: cert.thumbprintSha1Hex, notAfter: cert.notAfter } : null,
    problem,
    replaces: support.signsInOtherwise((store.config ?? {}) as Record<string, unknown>),
  };
}
