"use client";

import { CheckCircle2Icon, FlaskConicalIcon, LoaderCircleIcon, TriangleAlertIcon, UploadIcon, XCircleIcon } from "lucide-react";
import Link from "next/link";
import { useEffect, useState } from "react";
import { FormAlert } from "@/components/shared/form-alert";
import { examplePlaceholder } from "@/components/shared/example-placeholder";
import { FormField } from "@/components/shared/form-field";
import { useOpenSaved } from "@/components/shared/use-open-saved";
import { useServerAction } from "@/components/shared/use-server-action";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Checkbox } from "@/components/ui/checkbox";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { HelpText } from "@/components/shared/help-text";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Textarea } from "@/components/ui/textarea";
import { createStoreAction, testDraftStoreAction, updateStoreAction } from "@/lib/stores/actions";
import { CA_BUNDLE_LABEL, caBundleAddsTrust, PROXY_FIELD, reentryReason } from "@/lib/stores/common-fields";
import { isShown, movedLocators, type FieldSpec } from "@/lib/vault/fields";
import type { ExternalStoreKind } from "@/lib/vault/types";
import { cn, joinList } from "@/lib/utils";
import { useHydrated } from "@/components/shared/use-hydrated";
import { useSettingsFormSync } from "@/components/stores/settings-sync";

const TENANT = "__tenant__";

export type StoreFormProps = {
  kind: ExternalStoreKind;
  kindLabel: string;
  fields: FieldSpec[];
  supportsWrite: boolean;
  folders: { id: string; label: string }[];
  /** Present when editing: current settings and the names of secrets already set. */
  existing?: {
    id: string;
    name: string;
    folderId: string | null;
    mode: "READ_ONLY" | "READ_WRITE";
    config: Record<string, unknown>;
    secretsSet: string[];
    caBundle: string;
    probeSecret: string;
    timeoutMs: number;
    /** The settings version loaded: saving over someone else's later edit is refused. */
    settingsVersion: number;
  };
  /** Editing: starts the form afresh from the saved settings (StoreSettingsForm remounts it). */
  onDiscard?: () => void;
};

type TestOutcome = { ok: boolean; message: string } | null;

/** Reads an uploaded file: PEM as text, anything binary (PFX) as base64. */
async function readUpload(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  if (text.includes("-----BEGIN")) return text;
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}


/**
 * The control focused when a save began. Module-level: a saved change renders the form afresh (a new
 * instance), whose field of the same id takes focus back, or, for a secret that is now "Set", its
 * Replace button, since the input it was typed in is gone.
 */
let focusedBeforeSaving: { element: HTMLElement; at: number; storeId: string } | null = null;

/** For the form of `storeId` (the one that saved), once: whatever happens, the note is used up. */
function restoreFocusAfterSave(storeId: string) {
  const before = focusedBeforeSaving;
  if (!before || before.storeId !== storeId) return;
  focusedBeforeSaving = null;
  if (performance.now() - before.at > 30_000) return;
  // Something has focus (the first invalid field, a dialog): leave it.
  if (document.activeElement !== document.body && document.activeElement !== null) return;
  const { element } = before;
  const successor = element.isConnected ? element : element.id ? (document.getElementById(element.id) ?? document.getElementById(`${element.id}-replace`)) : null;
  successor?.focus();
}

/**
 * One form for every store kind, generated from the fields the provider's schema describes. Secret
 * fields are write-only: never pre-filled; a stored value shows "Set" with Replace (and Remove, for
 * optional ones). Changing where credentials are sent asks for every stored secret again.
 */
export function StoreForm({ kind, kindLabel, fields, supportsWrite, folders, existing, onDiscard }: StoreFormProps) {
  const hydrated = useHydrated();
  const [name, setName] = useState(existing?.name ?? "");
  const [folderId, setFolderId] = useState<string>(existing?.folderId ?? TENANT);
  const [mode, setMode] = useState<"READ_ONLY" | "READ_WRITE">(existing?.mode ?? (supportsWrite ? "READ_WRITE" : "READ_ONLY"));
  const [config, setConfig] = useState<Record<string, unknown>>(() => {
    const initial: Record<string, unknown> = {};
    for (const f of fields) if (!f.secret) initial[f.name] = existing?.config[f.name] ?? f.default ?? (f.type === "boolean" ? false : f.type === "select" ? (f.options?.[0]?.value ?? "") : "");
    return initial;
  });
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const [replacing, setReplacing] = useState<Set<string>>(new Set());
  const [removing, setRemoving] = useState<Set<string>>(new Set());
  // Replace, Remove and Keep it swap the control that held focus for another: focus follows to what replaced it.
  const [focusAfter, setFocusAfter] = useState<string[] | null>(null);
  const setFocusAfterSwap = (...ids: string[]) => setFocusAfter(ids);
  useEffect(() => {
    if (!focusAfter) return;
    setFocusAfter(null);
    for (const candidate of focusAfter) {
      const element = document.getElementById(candidate);
      if (element) return void element.focus();
    }
  }, [focusAfter]);
  const [caBundle, setCaBundle] = useState(existing?.caBundle ?? "");
  const [probeSecret, setProbeSecret] = useState(existing?.probeSecret ?? "");
  const [timeoutMs, setTimeoutMs] = useState(String(existing?.timeoutMs ?? 10000));
  const [testResult, setTestResult] = useState<TestOutcome>(null);

  // "Saving…" until the saved store's page has rendered: a saved change starts the form afresh (see the page).
  const { opening, open } = useOpenSaved();
  const afterSave = (data: { id: string }) => open(`/stores/${data.id}`);
  const saved = (verb: string) => (data: { test?: { ok: boolean } }) =>
    !data.test ? `Store ${verb}.` : data.test.ok ? `Store ${verb}. Test passed.` : { warning: `Store ${verb}, but its test failed: its page says why.` };
  const create = useServerAction(createStoreAction, { success: saved("created"), refresh: false, onSuccess: afterSave });
  const update = useServerAction(updateStoreAction, { success: saved("saved"), refresh: false, onSuccess: afterSave });
  const save = existing ? update : create;
  const saving = save.pending || opening;
  // The disabled fieldset takes focus from the field Enter was pressed in: a save refused without a
  // field to show its error by gives it back (one refused by a field focuses that field instead), and
  // a saved one (a new form instance, see StoreSettingsForm) gives it to the same field in the saved settings.
  const formStoreId = existing?.id ?? "new";
  useEffect(() => {
    if (!saving) restoreFocusAfterSave(formStoreId);
  }, [saving, formStoreId]);
  // The settings last tested here: saving exactly those tests the saved store too, so it does not show "Not tested".
  const [testedSnapshot, setTestedSnapshot] = useState<string | null>(null);
  const test = useServerAction(testDraftStoreAction, { refresh: false, onSuccess: (r) => setTestResult(r) });

  const visible = (f: FieldSpec) => isShown(f, config);
  // Ask both (no short-circuit): each hook counts the field as shown only when asked about it.
  const fieldError = (key: string) => {
    const [saved, tested] = [save.fieldError(key), test.fieldError(key)];
    return saved ?? tested;
  };
  // Where credentials go, or whom Latch trusts to be there, changed from what is saved: stored secrets will not follow.
  const locatorsMoved = existing ? movedLocators(fields, existing.config, config) : [];
  const trustAdded = !!existing && caBundleAddsTrust(existing.caBundle, caBundle);
  const moved = trustAdded ? [...locatorsMoved, CA_BUNDLE_LABEL] : locatorsMoved;
  const reentry = (f: FieldSpec) => moved.length > 0 && f.name !== PROXY_FIELD.name && !!existing?.secretsSet.includes(f.name);
  const isSet = (f: FieldSpec) => !!existing?.secretsSet.includes(f.name) && !replacing.has(f.name) && !reentry(f);
  const toggle = (set: Set<string>, key: string, on: boolean) => {
    const next = new Set(set);
    if (on) next.add(key);
    else next.delete(key);
    return next;
  };
  const common = {
    name,
    folderId: folderId === TENANT ? null : folderId,
    mode,
    caBundle,
    probeSecret,
    timeoutMs: Number(timeoutMs),
    config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v === "" ? undefined : v])),
    // Only what the form shows as typed: a value in a field since hidden (another sign-in method
    // chosen) or shown as "Set" again (the address changed back) is not sent, so it is not stored.
    secrets: Object.fromEntries(Object.entries(secrets).filter(([key]) => [...fields, PROXY_FIELD].some((f) => f.name === key && visible(f) && !isSet(f) && !removing.has(key)))),
    removeSecrets: [...removing],
  };
  // Anything changed from what was loaded: the store page's Generate key pair asks before it starts the form afresh
  // (and waits while this saves; while it generates, this form is read-only).
  const snapshot = JSON.stringify(common);
  const [loaded] = useState(snapshot);
  const changed = snapshot !== loaded;
  const { replacing: keyPairReplacing } = useSettingsFormSync(!!existing && changed, saving);

  const remove = (key: string) => {
    setRemoving(toggle(removing, key, true));
    setSecrets(Object.fromEntries(Object.entries(secrets).filter(([k]) => k !== key)));
    setFocusAfterSwap(`secret-${key}-undo`);
  };

  function secretInput(f: FieldSpec) {
    const key = f.name;
    const id = `secret-${key}`;
    const error = fieldError(`secrets.${key}`);
    // The button stands for the stored value: the error describes it, and a failed save focuses it.
    const invalidButton = error ? { "aria-describedby": `${id}-error`, "data-invalid-control": "" } : {};
    if (removing.has(key)) {
      return (
        <div className="grid content-start gap-2" key={key}>
          <Label htmlFor={`${id}-undo`}>{f.label}</Label>
          <div className="flex flex-wrap items-center gap-3">
            <Badge variant="warning">Removed on save</Badge>
            <Button id={`${id}-undo`} type="button" variant="outline" size="sm" {...invalidButton} onClick={() => {
                setRemoving(toggle(removing, key, false));
                setFocusAfterSwap(`${id}-replace`, id);
              }} aria-label={`Keep it: ${f.label}`}>
              Keep it
            </Button>
          </div>
          {error ? <p id={`${id}-error`} role="alert" className="text-[0.8125rem] font-medium text-danger">{error}</p> : null}
        </div>
      );
    }
    if (isSet(f)) {
      return (
        <div className="grid content-start gap-2" key={key}>
          <Label htmlFor={`${id}-replace`}>{f.label}</Label>
          <div className="flex flex-wrap items-center gap-3">
            <Badge variant="success">Set</Badge>
            <span className="text-sm text-muted-foreground">Stored encrypted; never shown.</span>
            <Button id={`${id}-replace`} type="button" variant="outline" size="sm" {...invalidButton} onClick={() => {
                setReplacing(toggle(replacing, key, true));
                setFocusAfterSwap(id);
              }} aria-label={`Replace ${f.label}`}>
              Replace
            </Button>
            {!f.required ? (
              <Button type="button" variant="ghost" size="sm" className="text-danger hover:text-danger" onClick={() => remove(key)} aria-label={`Remove ${f.label}`}>
                Remove
              </Button>
            ) : null}
          </div>
          {error ? <p id={`${id}-error`} role="alert" className="text-[0.8125rem] font-medium text-danger">{error}</p> : null}
        </div>
      );
    }
    const value = secrets[key] ?? "";
    const set = (v: string) => setSecrets({ ...secrets, [key]: v });
    const mustReenter = reentry(f) && !value;
    // Once the server has said the same thing as a field error, the warning would only repeat it.
    const description = mustReenter && !error ? (
      <>
        <span className="font-medium text-warning">The {joinList(moved)} changed: enter this again{f.required ? "" : " or remove it"}.</span> {f.help ? <HelpText text={f.help} /> : null}
      </>
    ) : f.help ? (
      <HelpText text={f.help} />
    ) : undefined;
    const removeButton =
      reentry(f) && !f.required ? (
        <Button type="button" variant="ghost" size="sm" className="justify-self-start text-danger hover:text-danger" onClick={() => remove(key)} aria-label={`Remove ${f.label}`}>
          Remove
        </Button>
      ) : null;
    if (f.type === "pem") {
      return (
        <div key={key} className="grid content-start gap-2 md:col-span-2">
          <FormField label={f.label} id={id} error={error} description={description} required={f.required}>
            <Textarea value={value} onChange={(e) => set(e.target.value)} rows={5} spellCheck={false} autoComplete="off" className="font-mono text-xs" placeholder="-----BEGIN CERTIFICATE-----" />
          </FormField>
          <div className="flex flex-wrap items-center gap-3">
            <Label htmlFor={`${id}-file`} className="inline-flex cursor-pointer items-center gap-2 rounded-md border border-input bg-background px-3 py-1.5 text-xs font-medium shadow-xs hover:bg-accent focus-within:ring-2 focus-within:ring-ring dark:bg-input/10">
              <UploadIcon className="size-3.5" aria-hidden="true" />
              Upload PEM file
              <input
                id={`${id}-file`}
                type="file"
                accept={f.accept}
                aria-label={`Upload ${f.label} file`}
                className="sr-only"
                onChange={async (e) => {
                  const file = e.target.files?.[0];
                  if (file) set(await file.text());
                  e.target.value = "";
                }}
              />
            </Label>
            <span className="text-xs text-muted-foreground">or paste it above. It is sent once and stored encrypted.</span>
            {removeButton}
          </div>
        </div>
      );
    }
    return (
      <div key={key} className={cn("grid content-start gap-2", f.type === "textarea" && "md:col-span-2")}>
        <FormField label={f.label} id={id} error={error} description={description} required={f.required}>
          {f.type === "file" ? (
            <Input
              type="file"
              accept={f.accept}
              onChange={async (e) => {
                const file = e.target.files?.[0];
                if (file) set(await readUpload(file));
              }}
            />
          ) : f.type === "textarea" ? (
            <Textarea value={value} onChange={(e) => set(e.target.value)} rows={5} spellCheck={false} autoComplete="off" className="font-mono text-xs" />
          ) : (
            <Input type="password" autoComplete="new-password" value={value} onChange={(e) => set(e.target.value)} placeholder={f.placeholder} />
          )}
        </FormField>
        {f.type === "file" && value ? <span className="text-xs text-muted-foreground">File loaded ({value.length.toLocaleString()} characters). It is sent once and stored encrypted.</span> : null}
        {removeButton}
      </div>
    );
  }

  function plainInput(f: FieldSpec) {
    const id = `config-${f.name}`;
    const value = config[f.name];
    const set = (v: unknown) => setConfig({ ...config, [f.name]: v });
    if (f.type === "boolean") {
      return (
        <div key={f.name} className="flex items-start gap-3">
          <Checkbox id={id} checked={value === true} onCheckedChange={(v) => set(v === true)} />
          <div className="grid gap-1">
            <Label htmlFor={id}>{f.label}</Label>
            {f.help ? <p className="text-[0.8125rem] text-muted-foreground"><HelpText text={f.help} /></p> : null}
          </div>
        </div>
      );
    }
    return (
      <FormField key={f.name} label={f.label} id={id} error={fieldError(`config.${f.name}`)} description={f.help ? <HelpText text={f.help} /> : undefined} required={f.required}>
        {f.type === "select" ? (
          <Select value={String(value ?? "")} onValueChange={set}>
            <SelectTrigger className="w-full">
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
        ) : f.type === "textarea" ? (
          <Textarea value={String(value ?? "")} onChange={(e) => set(e.target.value)} rows={4} placeholder={f.placeholder} />
        ) : (
          <Input
            type={f.type === "number" ? "number" : f.type === "url" ? "url" : "text"}
            value={String(value ?? "")}
            onChange={(e) => set(f.type === "number" && e.target.value !== "" ? Number(e.target.value) : e.target.value)}
            placeholder={examplePlaceholder(f.placeholder)}
            autoComplete="off"
            spellCheck={false}
          />
        )}
      </FormField>
    );
  }

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setTestResult(null);
    test.reset(); // Only this attempt's errors are shown: a test's would otherwise stay beside them.
    focusedBeforeSaving = document.activeElement instanceof HTMLElement ? { element: document.activeElement, at: performance.now(), storeId: existing?.id ?? "new" } : null;
    const testAfterSave = testedSnapshot === snapshot;
    if (existing) await update.run({ ...common, storeId: existing.id, expectedVersion: existing.settingsVersion, testAfterSave });
    // A created store opens on its own page, where focus starts afresh: nothing to give back.
    else if (await create.run({ ...common, kind, testAfterSave })) focusedBeforeSaving = null;
  }

  async function runTest() {
    setTestResult(null);
    save.reset();
    // A failure is shown by the hook: by its fields (the first one focused), or above the form and as a toast.
    const tested = snapshot;
    if (await test.run({ ...common, kind, storeId: existing?.id ?? null })) setTestedSnapshot(tested);
  }

  return (
    <form onSubmit={submit} noValidate className="grid gap-6">
      {/* Read-only while saving, or while a key pair replaces the settings: they then render afresh, and would drop anything typed meanwhile. */}
      <fieldset disabled={saving || keyPairReplacing} className="m-0 grid min-w-0 gap-6 border-0 p-0">
        <Card>
          <CardHeader>
            <CardTitle>
              <h2>General</h2>
            </CardTitle>
            <CardDescription>How the store appears in Latch and who may use it.</CardDescription>
          </CardHeader>
          <CardContent className="grid gap-5 md:grid-cols-2">
            <FormField label="Name" id="store-name" error={fieldError("name")} required>
              <Input value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" placeholder={`e.g. Production ${kindLabel}`} />
            </FormField>
            <FormField label="Scope" id="store-scope" error={fieldError("folderId")} description="A folder-owned store is usable only by assets in that folder and its subfolders.">
              <Select value={folderId} onValueChange={setFolderId}>
                <SelectTrigger className="w-full">
                  <SelectValue />
                </SelectTrigger>
                <SelectContent>
                  <SelectItem value={TENANT}>Tenant-wide (every folder)</SelectItem>
                  {folders.map((f) => (
                    <SelectItem key={f.id} value={f.id}>
                      Folder: {f.label}
                    </SelectItem>
                  ))}
                </SelectContent>
              </Select>
            </FormField>
            <FormField
              label="Mode"
              id="store-mode"
              error={fieldError("mode")}
              description={supportsWrite ? "Read-write lets people type a value in an asset form and Latch writes it to the store." : `${kindLabel} can only be read.`}
            >
              <Select value={mode} onValueChange={(v) => setMode(v as typeof mode)} disabled={!supportsWrite}>
                <SelectTrigger className="w-full">
                  <SelectValue />
                </SelectTrigger>
                <SelectContent>
                  <SelectItem value="READ_ONLY">Read-only</SelectItem>
                  {supportsWrite ? <SelectItem value="READ_WRITE">Read-write</SelectItem> : null}
                </SelectContent>
              </Select>
            </FormField>
          </CardContent>
        </Card>

        <Card>
          <CardHeader>
            <CardTitle>
              <h2>{kindLabel} connection</h2>
            </CardTitle>
            <CardDescription>Secret fields are write-only: stored encrypted and never sent back to your browser.</CardDescription>
          </CardHeader>
          <CardContent className="grid gap-5 md:grid-cols-2">
            {moved.length > 0 && existing?.secretsSet.some((k) => k !== PROXY_FIELD.name) ? (
              <div role="note" className="flex items-start gap-3 rounded-lg border border-warning/30 bg-warning/10 px-4 py-3 text-sm md:col-span-2">
                <TriangleAlertIcon className="mt-0.5 size-4 shrink-0 text-warning" aria-hidden="true" />
                <p>
                  You changed the {joinList(moved)}. {reentryReason(locatorsMoved.length > 0, trustAdded, "stored secrets")}: enter each of them again
                  below (or remove optional ones) before testing or saving.
                </p>
              </div>
            ) : null}
            {fields.filter(visible).map((f) => (f.secret ? secretInput(f) : plainInput(f)))}
          </CardContent>
        </Card>

        <Card>
          <CardHeader>
            <CardTitle>
              <h2>Network and trust</h2>
            </CardTitle>
            <CardDescription>TLS certificates are always verified. Add your private CA here rather than weakening verification.</CardDescription>
          </CardHeader>
          <CardContent className="grid gap-5 md:grid-cols-2">
            <FormField label="CA bundle (PEM)" id="store-ca" error={fieldError("caBundle")} description="Certificates to trust in addition to the system roots, for a store behind a private CA." className="md:col-span-2">
              <Textarea value={caBundle} onChange={(e) => setCaBundle(e.target.value)} rows={4} spellCheck={false} className="font-mono text-xs" placeholder="-----BEGIN CERTIFICATE-----" />
            </FormField>
            {secretInput(PROXY_FIELD)}
            <FormField label="Request timeout (ms)" id="store-timeout" error={fieldError("timeoutMs")}>
              <Input type="number" min={1000} max={120000} value={timeoutMs} onChange={(e) => setTimeoutMs(e.target.value)} />
            </FormField>
            {mode === "READ_ONLY" ? (
              <FormField label="Probe secret (optional)" id="store-probe" error={fieldError("probeSecret")} description="A secret the test reads to prove Latch has access, not just a login.">
                <Input value={probeSecret} onChange={(e) => setProbeSecret(e.target.value)} autoComplete="off" />
              </FormField>
            ) : null}
          </CardContent>
        </Card>
      </fieldset>

      <FormAlert title={test.formError && !save.formError ? "Could not test the settings" : existing ? "Could not save the store" : "Could not create the store"} message={save.formError ?? test.formError} />
      {/* Always in the page, so screen readers announce a result that appears in it (a region added with its text is often not read). */}
      <div role="status" aria-live="polite" className="empty:hidden">
        {testResult ? (
          <div
            className={cn(
              "flex items-start gap-3 rounded-lg border px-4 py-3 text-sm",
              testResult.ok ? "border-success/30 bg-success/10 text-success" : "border-danger/30 bg-danger/10 text-danger",
            )}
          >
            {testResult.ok ? <CheckCircle2Icon className="mt-0.5 size-4 shrink-0" aria-hidden="true" /> : <XCircleIcon className="mt-0.5 size-4 shrink-0" aria-hidden="true" />}
            <p>
              <span className="font-medium">{testResult.ok ? "Test passed. " : "Test failed. "}</span>
              {testResult.message}
            </p>
          </div>
        ) : null}
      </div>

      <div className="flex flex-wrap justify-end gap-3">
        {existing ? (
          onDiscard ? (
            <Button id="store-discard" type="button" variant="outline" onClick={onDiscard} disabled={!changed || saving}>
              Discard changes
            </Button>
          ) : null
        ) : (
          <Button type="button" variant="outline" asChild>
            <Link href="/stores">Cancel</Link>
          </Button>
        )}
        {/* Ids: after a save the form renders anew, and focus goes back to the button of the same id. */}
        <Button id="store-test" type="button" variant="outline" onClick={runTest} pending={test.pending}>
          {test.pending ? <LoaderCircleIcon className="animate-spin" aria-hidden="true" /> : <FlaskConicalIcon aria-hidden="true" />}
          {test.pending ? "Testing…" : "Test connection"}
        </Button>
        <Button id="store-save" type="submit" pending={saving} disabled={!hydrated}>
          {saving ? "Saving…" : existing ? "Save changes" : "Create store"}
        </Button>
      </div>
    </form>
  );
}
