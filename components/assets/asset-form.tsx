"use client";

import { useRouter } from "next/navigation";
import { useId, useState } from "react";
import { FormAlert } from "@/components/shared/form-alert";
import { FormField } from "@/components/shared/form-field";
import { useOpenSaved } from "@/components/shared/use-open-saved";
import { useServerAction } from "@/components/shared/use-server-action";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Textarea } from "@/components/ui/textarea";
import { createAssetAction, updateAssetAction } from "@/lib/assets/actions";
import type { StoreOption } from "@/lib/assets/queries";
import { ASSET_TYPES, ASSET_TYPE_DESCRIPTIONS, ASSET_TYPE_LABELS, isSecretType, type AssetType } from "@/lib/assets/schemas";
import { cn } from "@/lib/utils";
import type { VersionKind } from "@/lib/vault/reference";
import { useHydrated } from "@/components/shared/use-hydrated";

export type AssetFormProps = {
  folderId: string;
  stores: StoreOption[];
  /** Present when editing: metadata only. Write-only values are never sent to the browser. */
  existing?: {
    id: string;
    name: string;
    description: string;
    type: AssetType;
    storeId: string | null;
    secretName: string | null;
    /** The pinned version as the form edits it (lib/assets/reference.ts splitVersion): empty for the latest. */
    secretVersion: string;
    versionKind: VersionKind;
    usernameKey: string | null;
    valueKey: string | null;
    username: string | null;
    ownsSecret: boolean;
    plainValue: string | null;
    /** ISO time the asset was loaded at: saving over someone else's later change is refused. */
    updatedAt: string;
  };
  cancelHref: string;
};

type Source = "value" | "reference";

/** A group of radio inputs styled as cards; arrow keys move between them as for any radio group. */
function ChoiceGroup<T extends string>({
  legend,
  name,
  value,
  onChange,
  options,
  error,
}: {
  legend: string;
  name: string;
  value: T;
  onChange: (v: T) => void;
  options: { value: T; label: string; description?: string; disabled?: boolean }[];
  error?: string | null;
}) {
  const errorId = useId();
  return (
    <fieldset className="grid gap-2" aria-describedby={error ? errorId : undefined}>
      <legend className="mb-2 text-sm font-medium">{legend}</legend>
      <div className="grid gap-2 sm:grid-cols-2 lg:grid-cols-3">
        {options.map((o) => (
          <label
            key={o.value}
            className={cn(
              "flex cursor-pointer gap-3 rounded-lg border p-3 text-sm transition-colors has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-ring",
              value === o.value ? "border-primary bg-primary/5" : "hover:bg-muted/50",
              o.disabled && "cursor-not-allowed opacity-60",
            )}
          >
            <input
              type="radio"
              name={name}
              value={o.value}
              checked={value === o.value}
              disabled={o.disabled}
              onChange={() => onChange(o.value)}
              className="mt-0.5 size-4 accent-[var(--color-primary)]"
            />
            <span className="grid content-start gap-0.5">
              <span className="font-medium">{o.label}</span>
              {o.description ? <span className="text-[0.8125rem] text-muted-foreground">{o.description}</span> : null}
            </span>
          </label>
        ))}
      </div>
      {error ? (
        <p id={errorId} role="alert" className="text-[0.8125rem] font-medium text-danger">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

/**
 * Create and edit form for every asset type. Credential and Secret assets point at a store; for
 * stores Latch may write, the person can type the value instead (write-only fields, never pre-filled).
 */
export function AssetForm({ folderId, stores, existing, cancelHref }: AssetFormProps) {
  const hydrated = useHydrated();
  const router = useRouter();
  const editing = !!existing;
  const [type, setType] = useState<AssetType>(existing?.type ?? "CREDENTIAL");
  const [name, setName] = useState(existing?.name ?? "");
  const [description, setDescription] = useState(existing?.description ?? "");
  const [storeId, setStoreId] = useState(existing?.storeId ?? stores[0]?.id ?? "");
  const store = stores.find((s) => s.id === storeId);
  const [source, setSource] = useState<Source>(editing || !store?.writable ? "reference" : "value");
  const [secretName, setSecretName] = useState(existing?.secretName ?? "");
  const [secretVersion, setSecretVersion] = useState(existing?.secretVersion ?? "");
  const [versionKind, setVersionKind] = useState<VersionKind>(existing?.versionKind ?? "latest");
  const [usernameKey, setUsernameKey] = useState(existing ? existing.usernameKey ?? "" : store?.singleValue ? "" : store?.reference.defaultKeys.username ?? "username");
  // Credentials in multi-key secrets name their password key (the store kind's default, shown and editable).
  const defaultValueKey = (t: AssetType, st: StoreOption | undefined) => (t === "CREDENTIAL" && st && !st.singleValue ? st.reference.defaultKeys.password : "");
  const [valueKey, setValueKey] = useState(existing ? existing.valueKey ?? "" : defaultValueKey("CREDENTIAL", store));
  const [username, setUsername] = useState(existing?.username ?? "");
  const [secretValue, setSecretValue] = useState("");
  const [plainValue, setPlainValue] = useState(existing?.plainValue ?? (existing?.type === "BOOLEAN" ? "false" : ""));

  // "Saving…" until the asset's page has rendered.
  const { opening, open } = useOpenSaved();
  const afterSave = (data: { id: string }) => open(`/assets/${data.id}`);
  const create = useServerAction(createAssetAction, { success: "Asset created.", refresh: false, onSuccess: afterSave });
  const update = useServerAction(updateAssetAction, { success: "Asset saved.", refresh: false, onSuccess: afterSave });
  const save = editing ? update : create;
  const saving = save.pending || opening;
  const err = save.fieldError;

  const secret = isSecretType(type);
  const writingValue = secret && source === "value";
  // Typed values in the Latch store get a name of Latch's choosing; external stores need a path.
  const showSecretName = secret && !!store && (!writingValue || !store.isBuiltIn);
  // The store kind's words for its references (a path, a secret ID, an Object) and its versions.
  const spec = store?.reference;
  const versionField = spec?.version;
  /** What the version fields say, as the server takes it (stage-or-id stores: the kind of version, then its value). */
  const versionInput = (): { secretVersion: string; versionKind?: VersionKind } => {
    if (writingValue || !versionField || versionField.mode === "none") return { secretVersion: "" };
    if (versionField.mode === "stageOrId") return { versionKind, secretVersion: versionKind === "latest" ? "" : secretVersion };
    return { secretVersion };
  };

  function chooseStore(id: string) {
    const next = stores.find((s) => s.id === id);
    setStoreId(id);
    if (!next?.writable) setSource("reference");
    // Versions mean different things per kind (a number, a version ID, a staging label): start over.
    if (next && next.kind !== store?.kind) {
      setSecretVersion("");
      setVersionKind("latest");
    }
    // Also when editing, between a store with keys and one with a single value: the key fields are
    // hidden for the latter, and keys kept from the former would be saved unseen.
    if (next && (!editing || next.singleValue !== store?.singleValue)) {
      setUsernameKey(next.singleValue ? "" : next.reference.defaultKeys.username);
      setValueKey(defaultValueKey(type, next));
    }
  }

  /** The other source's fields leave the form, and so do their errors (else they would move above it). */
  function chooseSource(next: Source) {
    setSource(next);
    save.clearErrors(next === "reference" ? ["secretValue", "username"] : ["usernameKey", "valueKey", "secretVersion", "versionKind"]);
  }

  function chooseType(t: AssetType) {
    setType(t);
    if (!editing) setValueKey(defaultValueKey(t, store));
    if (t === "BOOLEAN" && plainValue !== "true" && plainValue !== "false") setPlainValue("false");
  }

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const common = {
      name,
      description,
      storeId: secret ? storeId : "",
      source,
      secretName: showSecretName ? secretName : "",
      ...(secret ? versionInput() : { secretVersion: "" }),
      usernameKey: type === "CREDENTIAL" ? usernameKey : "",
      valueKey,
      username: type === "CREDENTIAL" ? username : "",
      secretValue: writingValue ? secretValue : "",
      plainValue: secret ? "" : plainValue,
    };
    const ok = existing ? await update.run({ assetId: existing.id, expectedUpdatedAt: existing.updatedAt, ...common }) : await create.run({ folderId, type, ...common });
    if (ok) setSecretValue("");
  }

  const storeHelp = store
    ? `${store.kindLabel}${store.scope === "folder" ? " · owned by a folder" : " · tenant-wide"}${store.writable ? " · Latch can write to it" : " · read-only"}`
    : "Only stores this folder may use are listed.";

  return (
    <form onSubmit={submit} noValidate className="grid gap-6">
      <Card>
        <CardHeader>
          <CardTitle>
            <h2>Asset</h2>
          </CardTitle>
          <CardDescription>
            {editing ? `${ASSET_TYPE_LABELS[type]} — the type of an asset cannot change.` : "Choose what the asset holds. Only Credential and Secret assets can back a secret field of a connection."}
          </CardDescription>
        </CardHeader>
        <CardContent className="grid gap-5">
          {editing ? null : (
            <ChoiceGroup
              legend="Type"
              name="type"
              value={type}
              onChange={chooseType}
              error={err("type")}
              options={ASSET_TYPES.map((t) => ({ value: t, label: ASSET_TYPE_LABELS[t], description: ASSET_TYPE_DESCRIPTIONS[t] }))}
            />
          )}
          <div className="grid gap-5 md:grid-cols-2">
            <FormField id="asset-name" label="Name" required error={err("name")}>
              <Input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} required autoComplete="off" />
            </FormField>
            <FormField id="asset-description" label="Description" error={err("description")}>
              <Input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={500} autoComplete="off" />
            </FormField>
          </div>
        </CardContent>
      </Card>

      {secret ? (
        <Card>
          <CardHeader>
            <CardTitle>
              <h2>Where the secret lives</h2>
            </CardTitle>
            <CardDescription>The asset keeps only a pointer to the secret in a credential store. The value is read from the store when a connection needs it and is never shown.</CardDescription>
          </CardHeader>
          <CardContent className="grid gap-5">
            {stores.length === 0 ? (
              <p role="alert" className="rounded-md border border-warning/30 bg-warning/10 p-3 text-sm">
                No credential store is available to this folder. Ask an administrator to add one.
              </p>
            ) : (
              <FormField id="asset-store" label="Credential store" required error={err("storeId")} description={storeHelp}>
                <Select value={storeId} onValueChange={chooseStore}>
                  <SelectTrigger className="w-full">
                    <SelectValue placeholder="Choose a store…" />
                  </SelectTrigger>
                  <SelectContent>
                    {stores.map((s) => (
                      <SelectItem key={s.id} value={s.id}>
                        {s.isBuiltIn ? `${s.name} (built-in)` : `${s.name} (${s.kindLabel}${s.writable ? "" : ", read-only"})`}
                      </SelectItem>
                    ))}
                  </SelectContent>
                </Select>
              </FormField>
            )}
            {store?.lastTestFailed ? (
              <p role="status" className="-mt-2 rounded-md border border-warning/30 bg-warning/10 p-3 text-sm">
                {store.name}’s last test failed: until an administrator puts the store right, assets in it may not resolve.
              </p>
            ) : null}

            <ChoiceGroup<Source>
              legend={editing ? "Value" : "Source"}
              name="source"
              value={source}
              onChange={chooseSource}
              options={[
                {
                  value: "reference",
                  label: editing ? "Keep the current secret" : "Use an existing secret",
                  description: editing ? "Change where it points, or nothing at all." : "Point at a secret that is already in the store.",
                },
                {
                  value: "value",
                  label: editing ? "Enter a new value" : "Enter the value",
                  description: store?.writable ? "Latch writes it to the store; it is never shown again." : "This store is read-only.",
                  disabled: !store?.writable,
                },
              ]}
            />

            {!spec || !versionField ? null : showSecretName ? (
              <div className="grid gap-5 md:grid-cols-2">
                <FormField
                  id="asset-secret-name"
                  label={writingValue ? spec.writeNameLabel : spec.nameLabel}
                  required
                  error={err("secretName")}
                  description={
                    writingValue
                      ? // Names in an external store are the store's own: anyone who may use the store can reference them (only the built-in store keeps typed values to their asset).
                        `${spec.nameHelp} Latch creates the secret there, and never overwrites one it did not create. Assets that may use this store (${store?.scope === "folder" ? "in its folder and the folders below it" : "in any folder: it is tenant-wide"}) can point at that name too.`
                      : spec.nameHelp
                  }
                >
                  <Input
                    value={secretName}
                    onChange={(e) => setSecretName(e.target.value)}
                    maxLength={2048}
                    autoComplete="off"
                    spellCheck={false}
                    placeholder={spec.namePlaceholder}
                    className="font-mono text-sm"
                  />
                </FormField>
                {writingValue ? null : versionField.mode === "single" ? (
                  <FormField id="asset-secret-version" label={versionField.label} error={err("secretVersion")} description={versionField.help}>
                    <Input
                      value={secretVersion}
                      onChange={(e) => setSecretVersion(e.target.value)}
                      maxLength={200}
                      autoComplete="off"
                      spellCheck={false}
                      placeholder={versionField.placeholder}
                      className="font-mono text-sm"
                    />
                  </FormField>
                ) : versionField.mode === "none" ? (
                  <div className="grid content-start gap-1.5 text-sm">
                    <span className="font-medium">Version</span>
                    <p className="text-[0.8125rem] text-muted-foreground">{versionField.note}</p>
                  </div>
                ) : (
                  <div className="grid content-start gap-4 md:col-span-2">
                    <ChoiceGroup<VersionKind> legend="Version" name="versionKind" value={versionKind} onChange={setVersionKind} error={err("versionKind")} options={versionField.choices} />
                    {versionKind === "latest" ? null : (
                      <FormField
                        id="asset-secret-version"
                        label={versionField[versionKind].label}
                        required
                        error={err("secretVersion")}
                        description={versionField[versionKind].help}
                        className="md:max-w-md"
                      >
                        <Input
                          value={secretVersion}
                          onChange={(e) => setSecretVersion(e.target.value)}
                          maxLength={200}
                          autoComplete="off"
                          spellCheck={false}
                          placeholder={versionField[versionKind].placeholder}
                          className="font-mono text-sm"
                        />
                      </FormField>
                    )}
                  </div>
                )}
              </div>
            ) : (
              <p className="text-sm text-muted-foreground">This store is Latch’s own: the value is kept encrypted in Latch’s database, under a name Latch gives it.</p>
            )}

            {writingValue ? (
              <div className="grid gap-5 md:grid-cols-2">
                {type === "CREDENTIAL" ? (
                  <FormField id="asset-username" label="Username" required error={err("username")}>
                    <Input value={username} onChange={(e) => setUsername(e.target.value)} maxLength={300} autoComplete="off" spellCheck={false} />
                  </FormField>
                ) : null}
                <FormField
                  id="asset-secret-value"
                  label={type === "CREDENTIAL" ? "Password" : "Value"}
                  required
                  error={err("secretValue")}
                  description="Write-only: Latch never shows it, and this form never fills it in."
                >
                  <Input type="password" autoComplete="new-password" value={secretValue} onChange={(e) => setSecretValue(e.target.value)} spellCheck={false} />
                </FormField>
              </div>
            ) : type === "CREDENTIAL" ? (
              <div className="grid items-start gap-5 md:grid-cols-3">
                {store?.singleValue ? null : (
                  <FormField id="asset-username-key" label="Username key" error={err("usernameKey")} description="The key in the secret that holds the username. Empty: give the username instead.">
                    <Input value={usernameKey} onChange={(e) => setUsernameKey(e.target.value)} maxLength={200} autoComplete="off" spellCheck={false} className="font-mono text-sm" />
                  </FormField>
                )}
                <FormField
                  id="asset-fixed-username"
                  label="Username"
                  error={err("username")}
                  description={store?.singleValue ? "The secret holds the password only; the username is kept here." : "Used only when no username key is set."}
                >
                  <Input value={username} onChange={(e) => setUsername(e.target.value)} maxLength={300} autoComplete="off" spellCheck={false} />
                </FormField>
                {store?.singleValue ? null : (
                  <FormField id="asset-value-key" label="Password key" error={err("valueKey")} description={`The key in the secret that holds the password. Empty: the secret's only value, else its “value” key${store && store.reference.defaultKeys.password !== "value" ? ` or its “${store.reference.defaultKeys.password}” key` : ""}.`}>
                    <Input value={valueKey} onChange={(e) => setValueKey(e.target.value)} maxLength={200} autoComplete="off" spellCheck={false} className="font-mono text-sm" placeholder={store?.reference.defaultKeys.password} />
                  </FormField>
                )}
              </div>
            ) : store?.singleValue ? null : (
              <FormField
                id="asset-value-key"
                label="Key"
                error={err("valueKey")}
                description={`For secrets with several keys: the one that holds the value. Empty: the secret's only value, else its “value” key${store && store.reference.defaultKeys.password !== "value" ? ` or its “${store.reference.defaultKeys.password}” key` : ""}.`}
              >
                <Input value={valueKey} onChange={(e) => setValueKey(e.target.value)} maxLength={200} autoComplete="off" spellCheck={false} className="font-mono text-sm md:max-w-sm" />
              </FormField>
            )}
          </CardContent>
        </Card>
      ) : (
        <Card>
          <CardHeader>
            <CardTitle>
              <h2>Value</h2>
            </CardTitle>
            <CardDescription>A plain setting, stored and shown as is. It cannot back a secret field of a connection.</CardDescription>
          </CardHeader>
          <CardContent>
            {type === "TEXT" ? (
              <FormField id="asset-plain-value" label="Text" error={err("plainValue")}>
                <Textarea value={plainValue} onChange={(e) => setPlainValue(e.target.value)} rows={3} maxLength={4000} />
              </FormField>
            ) : type === "INTEGER" ? (
              <FormField id="asset-plain-value" label="Integer" required error={err("plainValue")} description="A 64-bit whole number: up to 19 digits, with a minus sign if negative.">
                <Input inputMode="numeric" value={plainValue} onChange={(e) => setPlainValue(e.target.value)} autoComplete="off" className="md:max-w-xs" />
              </FormField>
            ) : (
              <FormField id="asset-plain-value" label="Boolean" required error={err("plainValue")}>
                <Select value={plainValue} onValueChange={setPlainValue}>
                  <SelectTrigger className="w-full md:max-w-xs">
                    <SelectValue />
                  </SelectTrigger>
                  <SelectContent>
                    <SelectItem value="true">True</SelectItem>
                    <SelectItem value="false">False</SelectItem>
                  </SelectContent>
                </Select>
              </FormField>
            )}
          </CardContent>
        </Card>
      )}

      <FormAlert title={editing ? "Could not save the asset" : "Could not create the asset"} message={save.formError} />
      <div className="flex flex-wrap justify-end gap-2">
        <Button type="button" variant="outline" onClick={() => router.push(cancelHref)}>
          Cancel
        </Button>
        <Button type="submit" pending={saving} disabled={!hydrated}>
          {saving ? "Saving…" : editing ? "Save changes" : "Create asset"}
        </Button>
      </div>
    </form>
  );
}
