import { Breadcrumbs } from "@/components/layout/breadcrumbs";
import { PageHeader } from "@/components/shared/page-header";
import { CertificateCredentialCard } from "@/components/stores/certificate-credential-card";
import { StoreActions } from "@/components/stores/store-actions";
import { StoreHealth } from "@/components/stores/store-health";
import { StoreSettingsSync } from "@/components/stores/settings-sync";
import { StoreSettingsForm } from "@/components/stores/store-settings-form";
import { listFolderOptions } from "@/lib/folders/queries";
import { getStoreCertificateStateOrThrow } from "@/lib/stores/certificates";
import { storeDeleteRefusal } from "@/lib/stores/queries";
import { getProviderOrThrow, isExternalStoreKind } from "@/lib/vault/registry";
import { loadStoreView } from "./store-view";

export async function generateMetadata({ params }: { params: Promise<{ storeId: string }> }) {
  const { store } = await loadStoreView((await params).storeId);
  return { title: store.name };
}

export default async function StorePage({ params }: { params: Promise<{ storeId: string }> }) {
  const { user, store } = await loadStoreView((await params).storeId);
  const provider = getProviderOrThrow(store.kind);
  const [folders, deleteRefusal] = await Promise.all([listFolderOptions(user), store.assetCount > 0 ? storeDeleteRefusal(user, store) : null]);
  // Kinds whose key pair Latch can make (Azure) show it; a store without one yet shows the button alone.
  const certificate = provider.certificateCredential ? await getStoreCertificateStateOrThrow(user, store.id) : null;
  const certificateCard =
    provider.certificateCredential && certificate ? (
      <CertificateCredentialCard
        storeId={store.id}
        current={certificate.current}
        problem={certificate.problem}
        replaces={certificate.replaces}
        uploadTo={provider.certificateCredential.uploadTo}
        uploadSteps={provider.certificateCredential.uploadSteps}
      />
    ) : null;
  // A store that signs in with the key pair shows it first; one that uses a client secret, after its settings.
  const certificateFirst = store.config.auth !== "client_secret";
  return (
    <StoreSettingsSync>
      <div className="grid grid-cols-1 gap-6">
        <Breadcrumbs items={[{ label: "Credential stores", href: "/stores" }, { label: store.name }]} />
        <PageHeader
          title={store.name}
          // Above the title, where a connection's page shows its status.
          eyebrow={<StoreHealth lastTest={store.lastTest} inline />}
          description={`${store.kindLabel} · ${store.folder ? `Folder: ${store.folder.name}` : "Tenant-wide"}`}
          actions={<StoreActions storeId={store.id} storeName={store.name} deletable={!store.isBuiltIn} deleteRefusal={deleteRefusal} />}
        />
        {store.lastTest && !store.lastTest.ok ? (
          <p role="status" className="rounded-lg border border-danger/30 bg-danger/10 px-4 py-3 text-sm text-danger [overflow-wrap:anywhere]">
            Last test failed: {store.lastTest.message}
          </p>
        ) : null}
        {certificateFirst ? certificateCard : null}
        {!isExternalStoreKind(store.kind) ? (
          <p className="text-sm text-muted-foreground">
            The built-in Latch Database store keeps values in Latch’s own database, sealed with AES-256-GCM under keys wrapped by the master key. It is
            always tenant-wide and read-write.
          </p>
        ) : (
          // A saved change starts the form afresh from what was stored (no typed secret, "Replace" or "Remove"
          // left open), unless what is typed there would be lost: see StoreSettingsForm.
          <StoreSettingsForm
            kind={store.kind}
            kindLabel={provider.label}
            fields={provider.fields}
            supportsWrite={provider.supportsWrite}
            folders={folders}
            existing={{
              id: store.id,
              name: store.name,
              folderId: store.folder?.id ?? null,
              mode: store.mode,
              config: store.config,
              secretsSet: store.secretsSet,
              caBundle: store.caBundle,
              probeSecret: store.probeSecret,
              timeoutMs: store.timeoutMs,
              settingsVersion: store.settingsVersion,
            }}
          />
        )}
        {!certificateFirst ? certificateCard : null}
      </div>
    </StoreSettingsSync>
  );
}
