"use client";

import { CheckCircle2Icon, CopyIcon, EllipsisVerticalIcon, KeyRoundIcon, KeySquareIcon, LoaderCircleIcon, PencilLineIcon, XIcon } from "lucide-react";
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { flushSync } from "react-dom";
import { FormAlert } from "@/components/shared/form-alert";
import { FormField } from "@/components/shared/form-field";
import { useOpenSaved } from "@/components/shared/use-open-saved";
import { useServerAction } from "@/components/shared/use-server-action";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Checkbox } from "@/components/ui/checkbox";
import { DropdownMenu, DropdownMenuContent, DropdownMenuItem, DropdownMenuTrigger } from "@/components/ui/dropdown-menu";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Textarea } from "@/components/ui/textarea";
import type { PickerFolder } from "@/lib/assets/picker";
import type { ConnectorField } from "@/lib/connectors/types";
import { saveConnectionAction } from "@/lib/connections/actions";
import type { SecretFieldView } from "@/lib/connections/queries";
import { AssetPickerDialog, type PickedAsset } from "./asset-picker-dialog";
import { useHydrated } from "@/components/shared/use-hydrated";
import { examplePlaceholder } from "@/components/shared/example-placeholder";
import { copyText } from "@/components/shared/copy-text";

type Source =
  | { mode: "asset"; asset: PickedAsset }
  | { mode: "value"; value: string }
  | { mode: "keep"; asset: (Omit<PickedAsset, "id"> & { id: string | null }) | null }
  | { mode: "none" };

export type ConnectionFormProps = {
  folderId: string;
  connector: { kind: string; label: string; fields: ConnectorField[] };
  pickerFolders: PickerFolder[];
  /** Present when editing. `settingsVersion`: the version loaded; saving over someone else's later edit is refused. */
  existing?: { id: string; name: string; config: Record<string, unknown>; secretFields: SecretFieldView[]; settingsVersion: number };
  cancelHref: string;
  /** OAuth 2.0 apps: Latch's callback, which the app must accept; shown (with Copy) beside the authorization URL. */
  redirectUri?: string;
};

type Failure = { title: string; message: string };

function initialConfig(fields: ConnectorField[], existing?: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    if (f.type === "secret") continue;
    out[f.name] = existing?.[f.name] ?? f.default ?? (f.type === "boolean" ? false : f.type === "select" ? f.options?.[0]?.value ?? "" : "");
  }
  return out;
}

/**
 * The connection form, generated from the connector's fields. Every secret field has a menu with
 * "Enter value" and "Use credential asset"; a chosen asset shows as a chip (name and folder path).
 * Secret values are never pre-filled; editing keeps what is stored unless the person replaces it.
 */
export function ConnectionForm({ folderId, connector, pickerFolders, existing, cancelHref, redirectUri }: ConnectionFormProps) {
  const hydrated = useHydrated();
  const router = useRouter();
  const [name, setName] = useState(existing?.name ?? "");
  const [config, setConfig] = useState<Record<string, unknown>>(() => initialConfig(connector.fields, existing?.config));
  const [sources, setSources] = useState<Record<string, Source>>(() => {
    const out: Record<string, Source> = {};
    for (const f of connector.fields.filter((x) => x.type === "secret")) {
      const view = existing?.secretFields.find((s) => s.field === f.name);
      out[f.name] =
        view?.source === "asset" && view.asset
          ? { mode: "keep", asset: { id: view.asset.id, name: view.asset.name, type: view.asset.type as PickedAsset["type"], folderPath: view.asset.folderPath } }
          : view?.source === "value"
            ? { mode: "keep", asset: null }
            : { mode: "value", value: "" };
    }
    return out;
  });
  // Fields whose typed value is stored (sealed): an empty input keeps it.
  const [storedTyped] = useState<ReadonlySet<string>>(() => new Set(existing?.secretFields.filter((s) => s.source === "value").map((s) => s.field) ?? []));
  const [usernameFrom, setUsernameFrom] = useState<Set<string>>(() => new Set(existing?.secretFields.filter((s) => s.fillsUsernameField).map((s) => s.field) ?? []));
  const [picking, setPicking] = useState<ConnectorField | null>(null);
  // The picker is unmounted when it closes, so it cannot hand focus back itself: after a pick the
  // field's “Change” button gets it, after a cancel the control the picker was opened from.
  const [focusAfterPicker, setFocusAfterPicker] = useState<string | null>(null);
  useEffect(() => {
    if (!focusAfterPicker) return;
    document.querySelector<HTMLElement>(`[data-return-focus="${CSS.escape(focusAfterPicker)}"]`)?.focus();
    setFocusAfterPicker(null);
  }, [focusAfterPicker]);
  const picked = useRef(false);
  // Opened from the "Use credential asset" link rather than the field's menu: a cancel goes back there.
  const openedFromLink = useRef(false);
  const closePicker = (field: ConnectorField) => {
    setPicking(null);
    setFocusAfterPicker(picked.current || assetOf(sources[field.name]) ? `change-${field.name}` : openedFromLink.current ? `use-${field.name}` : `options-${field.name}`);
    picked.current = false;
    openedFromLink.current = false;
  };
  const [failure, setFailure] = useState<Failure | null>(null);

  // Connect stays busy until the connection's page has rendered.
  const { opening, open } = useOpenSaved();
  const save = useServerAction(saveConnectionAction, {
    refresh: false,
    // Cancel cannot stop a save already sent: say what became of it, without pulling the person back.
    afterLeaving: (outcome) =>
      !outcome.ok ? null : "redirectTo" in outcome ? "The connection was saved before Cancel took effect. Open it to sign in to the app." : "The connection was saved and connected before Cancel took effect.",
    onSuccess: (outcome) => {
      if (!outcome.ok) return setFailure({ title: outcome.title, message: outcome.message });
      if ("redirectTo" in outcome) return window.location.assign(outcome.redirectTo);
      open(`/connections/${outcome.connectionId}?connected=1`);
    },
  });
  const err = save.fieldError;
  // A secret field's source changed: its error is about what was there before, and so is its user
  // field's when the new source fills that field too (a Credential asset).
  const sourceChanged = (f: ConnectorField, fillsUser = false) => save.clearErrors([`secrets.${f.name}`, ...(fillsUser && f.usernameField ? [`config.${f.usernameField}`] : [])]);

  const visible = (f: ConnectorField) => !f.showWhen || f.showWhen.equals.includes(String(config[f.showWhen.field] ?? ""));
  const fields = connector.fields.filter(visible);
  const setField = (key: string, value: unknown) => setConfig((c) => ({ ...c, [key]: value }));
  const assetOf = (s: Source | undefined) => (s?.mode === "asset" || s?.mode === "keep" ? (s.asset ?? null) : null);

  // Username fields filled from a Credential asset chosen for a secret field (a reference, not a copy).
  const usernameFilledBy = new Map<string, { secretField: string; asset: Omit<PickedAsset, "id"> }>();
  for (const f of fields) {
    const asset = assetOf(sources[f.name]);
    if (f.type === "secret" && f.usernameField && asset?.type === "CREDENTIAL" && usernameFrom.has(f.name)) usernameFilledBy.set(f.usernameField, { secretField: f.name, asset });
  }

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setFailure(null);
    const secrets: Record<string, unknown> = {};
    for (const f of fields.filter((x) => x.type === "secret")) {
      const s = sources[f.name];
      secrets[f.name] =
        s?.mode === "asset" ? { mode: "asset", assetId: s.asset.id } : s?.mode === "keep" ? { mode: "keep" } : s?.mode === "value" && s.value !== "" ? { mode: "value", value: s.value } : { mode: "none" };
    }
    const cfg = Object.fromEntries(fields.filter((f) => f.type !== "secret").map((f) => [f.name, f.type === "number" && config[f.name] !== "" ? Number(config[f.name]) : config[f.name]]));
    await save.run({
      connectionId: existing?.id ?? null,
      folderId,
      name,
      kind: connector.kind,
      config: cfg,
      secrets: secrets as never,
      usernameFromAsset: [...usernameFrom].filter((f) => fields.some((x) => x.name === f) && assetOf(sources[f])?.type === "CREDENTIAL"),
      ...(existing ? { expectedVersion: existing.settingsVersion } : {}),
    });
  }

  function plainField(f: ConnectorField) {
    const id = `config-${f.name}`;
    const filled = usernameFilledBy.get(f.name);
    if (filled) {
      return (
        <FormField key={f.name} id={id} label={f.label} description="Filled from the credential asset when the connection is used.">
          <Input value={`From “${filled.asset.name}”`} readOnly aria-readonly="true" className="bg-muted/50" />
        </FormField>
      );
    }
    const value = config[f.name];
    if (f.type === "boolean") {
      // The box beside its label, as in the store form: a label above a lone checkbox reads as a heading with nothing under it.
      const error = err(`config.${f.name}`);
      const describedBy = [f.help ? `${id}-description` : null, error ? `${id}-error` : null].filter(Boolean).join(" ") || undefined;
      return (
        <div key={f.name} className="flex min-w-0 items-start gap-3 md:pt-7">
          <Checkbox id={id} className="mt-0.5" checked={!!value} onCheckedChange={(v) => setField(f.name, v === true)} aria-describedby={describedBy} aria-invalid={error ? true : undefined} />
          <div className="grid gap-1">
            <Label htmlFor={id}>{f.label}</Label>
            {f.help ? (
              <p id={`${id}-description`} className="text-[0.8125rem] text-muted-foreground">
                {f.help}
              </p>
            ) : null}
            {error ? (
              <p id={`${id}-error`} role="alert" className="text-[0.8125rem] font-medium text-danger">
                {error}
              </p>
            ) : null}
          </div>
        </div>
      );
    }
    return (
      <FormField key={f.name} id={id} label={f.label} required={f.required} description={f.help} error={err(`config.${f.name}`)} className="min-w-0">
        {f.type === "select" ? (
          <Select value={String(value ?? "")} onValueChange={(v) => setField(f.name, v)}>
            <SelectTrigger className="w-full min-w-0 overflow-hidden [&>span]:truncate">
              <SelectValue placeholder="Choose…" />
            </SelectTrigger>
            <SelectContent>
              {f.options?.map((o) => (
                <SelectItem key={o.value} value={o.value}>
                  {o.label}
                </SelectItem>
              ))}
            </SelectContent>
          </Select>
        ) : f.name === "caBundle" || f.placeholder?.startsWith("-----BEGIN") ? (
          <Textarea value={String(value ?? "")} onChange={(e) => setField(f.name, e.target.value)} rows={4} spellCheck={false} className="font-mono text-xs" placeholder={f.placeholder} />
        ) : (
          <Input
            type={f.type === "number" ? "number" : "text"}
            value={String(value ?? "")}
            onChange={(e) => setField(f.name, e.target.value)}
            placeholder={examplePlaceholder(f.placeholder)}
            autoComplete="off"
            spellCheck={false}
          />
        )}
      </FormField>
    );
  }

  function secretField(f: ConnectorField) {
    const id = `secret-${f.name}`;
    const source = sources[f.name] ?? { mode: "value", value: "" };
    const asset = assetOf(source);
    const setSource = (s: Source) => {
      setSources((all) => ({ ...all, [f.name]: s }));
      if (s.mode !== "value" || source.mode !== "value") sourceChanged(f);
    };
    const menu = (
      <DropdownMenu>
        <DropdownMenuTrigger asChild>
          <Button type="button" variant="outline" size="icon" aria-label={`${f.label} options`} data-return-focus={`options-${f.name}`}>
            <EllipsisVerticalIcon aria-hidden="true" />
          </Button>
        </DropdownMenuTrigger>
        <DropdownMenuContent align="end">
          <DropdownMenuItem
            onSelect={() => {
              // Already typing one: what was typed stays.
              if (source.mode === "value") return;
              setSource(storedTyped.has(f.name) ? { mode: "keep", asset: null } : { mode: "value", value: "" });
            }}
          >
            <PencilLineIcon aria-hidden="true" /> Enter value
          </DropdownMenuItem>
          <DropdownMenuItem onSelect={() => setPicking(f)}>
            <KeyRoundIcon aria-hidden="true" /> Use credential asset
          </DropdownMenuItem>
          {/* An optional secret (a Redis that asks for no password) can go back to having none. */}
          {!f.required && storedTyped.has(f.name) && source.mode !== "none" ? (
            <DropdownMenuItem onSelect={() => setSource({ mode: "none" })}>
              <XIcon aria-hidden="true" /> Remove the stored value
            </DropdownMenuItem>
          ) : null}
        </DropdownMenuContent>
      </DropdownMenu>
    );
    const fieldError = err(`secrets.${f.name}`);
    return (
      <div key={f.name} className="grid min-w-0 gap-2">
        {asset ? (
          <div className="grid grid-cols-1 gap-2">
            <Label id={`${id}-label`}>
              {f.label}
              {f.required ? <span aria-hidden="true" className="-ml-1 text-danger">*</span> : null}
            </Label>
            <div role="group" aria-labelledby={`${id}-label`} aria-describedby={fieldError ? `${id}-error` : undefined} className="flex min-w-0 flex-wrap items-center gap-2 rounded-md border bg-muted/30 p-2">
              {/* Whole, never cut: which credential is attached is what the person checks here. */}
              <span className="flex min-w-0 flex-1 basis-48 items-start gap-2 rounded-md border bg-background px-3 py-1.5 text-sm" data-testid={`asset-chip-${f.name}`}>
                <KeySquareIcon className="mt-0.5 size-4 shrink-0 text-info" aria-hidden="true" />
                <span className="grid min-w-0">
                  <span className="font-medium [overflow-wrap:anywhere]">{asset.name}</span>
                  <span className="text-xs text-muted-foreground [overflow-wrap:anywhere]">{asset.folderPath}</span>
                </span>
              </span>
              <span className="ml-auto flex shrink-0 gap-1">
                <Button
                  type="button"
                  variant="ghost"
                  size="sm"
                  onClick={() => setPicking(f)}
                  aria-label={`Change the asset for ${f.label}`}
                  aria-describedby={fieldError ? `${id}-error` : undefined}
                  data-invalid-control={fieldError ? "" : undefined}
                  data-return-focus={`change-${f.name}`}
                >
                  Change
                </Button>
                <Button
                  type="button"
                  variant="ghost"
                  size="sm"
                  onClick={() => {
                    // The button goes with the chip: focus moves to the value's own input that takes its place.
                    flushSync(() => setSource(storedTyped.has(f.name) ? { mode: "keep", asset: null } : { mode: "value", value: "" }));
                    document.getElementById(id)?.focus();
                  }}
                  aria-label={`Remove the asset from ${f.label}`}
                >
                  <XIcon aria-hidden="true" /> Remove
                </Button>
              </span>
            </div>
            {f.usernameField && asset.type === "CREDENTIAL" ? (
              <label className="flex items-center gap-2 text-sm">
                <Checkbox
                  checked={usernameFrom.has(f.name)}
                  onCheckedChange={(v) => {
                    setUsernameFrom((s) => {
                      const next = new Set(s);
                      if (v === true) next.add(f.name);
                      else next.delete(f.name);
                      return next;
                    });
                    if (v === true && f.usernameField) save.clearErrors([`config.${f.usernameField}`]);
                  }}
                />
                Fill “{connector.fields.find((x) => x.name === f.usernameField)?.label ?? f.usernameField}” from this asset too
              </label>
            ) : null}
            {fieldError ? (
              <p id={`${id}-error`} role="alert" className="text-[0.8125rem] font-medium text-danger">
                {fieldError}
              </p>
            ) : null}
          </div>
        ) : (
          <FormField
            id={id}
            label={f.label}
            required={f.required}
            description={
              source.mode === "none" && storedTyped.has(f.name)
                ? "The stored value is removed when you save, and none is sent. Type a value to use one again."
                : storedTyped.has(f.name)
                  ? "A value is stored, encrypted and never shown. Leave this empty to keep it, or type a new one."
                  : f.help
            }
            error={fieldError}
            className="min-w-0"
          >
            {/* The menu sits beside the input itself, whatever hint or error the field shows. */}
            <div className="flex flex-wrap gap-x-2 gap-y-1">
              <Input
                type="password"
                autoComplete="new-password"
                className="min-w-0 flex-1"
                value={source.mode === "value" ? source.value : ""}
                // Emptied again: back to the stored value.
                onChange={(e) => setSource(e.target.value === "" && storedTyped.has(f.name) ? { mode: "keep", asset: null } : { mode: "value", value: e.target.value })}
                placeholder={storedTyped.has(f.name) && source.mode === "keep" ? "Stored value kept" : source.mode === "none" && storedTyped.has(f.name) ? "None" : f.placeholder}
                spellCheck={false}
              />
              {menu}
              {/* The product's point, in words and not only behind the menu: take the value from a credential asset. */}
              <div className="basis-full">
                <button
                  type="button"
                  onClick={() => {
                    openedFromLink.current = true;
                    setPicking(f);
                  }}
                  data-return-focus={`use-${f.name}`}
                  className="inline-flex items-center gap-1.5 text-[0.8125rem] font-medium text-primary underline-offset-4 hover:underline focus-visible:rounded-sm focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-ring"
                >
                  <KeyRoundIcon className="size-3.5" aria-hidden="true" />
                  Use credential asset<span className="sr-only"> for {f.label}</span>
                </button>
              </div>
            </div>
          </FormField>
        )}
      </div>
    );
  }

  // Read-only, so it can be selected as well as copied; the app's own form is where it goes.
  function redirectUriField(uri: string) {
    return (
      <FormField key="redirect-uri" id="oauth-redirect-uri" label="Redirect URI" description="Register this in the app as a redirect URI (callback URL) before you authorise." className="min-w-0 md:col-span-2">
        <div className="flex min-w-0 gap-2">
          <Input value={uri} readOnly aria-readonly="true" className="min-w-0 bg-muted/50 font-mono text-xs" onFocus={(e) => e.currentTarget.select()} />
          <Button type="button" variant="outline" onClick={() => void copyText(uri, "Redirect URI")}>
            <CopyIcon aria-hidden="true" /> Copy
          </Button>
        </div>
      </FormField>
    );
  }

  return (
    <form onSubmit={submit} noValidate className="grid gap-6">
      <Card>
        <CardHeader>
          <CardTitle>
            <h2>{connector.label}</h2>
          </CardTitle>
          <CardDescription>Secret fields can use a credential asset: Latch reads the value from its store at each use and never saves it.</CardDescription>
        </CardHeader>
        <CardContent className="grid gap-5 md:grid-cols-2">
          <FormField id="connection-name" label="Connection name" required error={err("name")} className="md:col-span-2">
            <Input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} autoComplete="off" />
          </FormField>
          {fields.map((f) => (f.type === "secret" ? secretField(f) : f.name === "authorizationUrl" && redirectUri ? [plainField(f), redirectUriField(redirectUri)] : plainField(f)))}
        </CardContent>
      </Card>

      {save.formError || failure ? (
        <FormAlert
          title={save.formError ? (existing ? "Could not save the connection" : "Could not create the connection") : `Could not connect: ${failure!.title}`}
          message={save.formError ?? failure!.message}
          note="Nothing was saved."
        />
      ) : (
        <div aria-live="polite">
          {save.pending ? (
            <p role="status" className="flex items-center gap-2 text-sm text-muted-foreground">
              <LoaderCircleIcon className="size-4 animate-spin" aria-hidden="true" /> Connecting to the target…
            </p>
          ) : null}
        </div>
      )}

      <div className="flex flex-wrap justify-end gap-2">
        <Button type="button" variant="outline" onClick={() => router.push(cancelHref)}>
          Cancel
        </Button>
        <Button type="submit" pending={save.pending || opening} disabled={!hydrated}>
          {save.pending || opening ? <LoaderCircleIcon className="animate-spin" aria-hidden="true" /> : <CheckCircle2Icon aria-hidden="true" />}
          {existing ? "Save and connect" : "Connect"}
        </Button>
      </div>

      {picking ? (
        <AssetPickerDialog
          open={!!picking}
          onOpenChange={(open) => !open && closePicker(picking)}
          folders={pickerFolders}
          fieldLabel={picking.label}
          currentAssetId={assetOf(sources[picking.name])?.id ?? null}
          onPick={(asset) => {
            setSources((all) => ({ ...all, [picking.name]: { mode: "asset", asset } }));
            sourceChanged(picking, asset.type === "CREDENTIAL");
            if (picking.usernameField && asset.type === "CREDENTIAL") setUsernameFrom((s) => new Set(s).add(picking.name));
            picked.current = true;
          }}
        />
      ) : null}
    </form>
  );
}
