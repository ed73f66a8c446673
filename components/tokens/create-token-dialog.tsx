"use client";

import { CheckIcon, CopyIcon, KeyRoundIcon, TriangleAlertIcon } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { Button } from "@/components/ui/button";
import { Checkbox } from "@/components/ui/checkbox";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle, DialogTrigger } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { FormField } from "@/components/shared/form-field";
import { DialogFormFooter } from "@/components/shared/dialog-form-footer";
import { useServerAction } from "@/components/shared/use-server-action";
import { copyText } from "@/components/shared/copy-text";
import { TENANT_PERMISSION_LABELS } from "@/lib/authz/permissions";
import { createPersonalTokenAction, createServiceAccountTokenAction } from "@/lib/tokens/actions";
import type { CreatedToken } from "@/lib/tokens/mutations";
import type { ScopeFolderOption } from "@/lib/tokens/queries";
import { TOKEN_EXPIRY_CHOICES, type CreatePersonalTokenInput } from "@/lib/tokens/schemas";
import { newScopeDraft, ScopeEditor, type ScopeDraft } from "./scope-editor";
import { LocalTime } from "@/components/shared/local-time";

type Target = { kind: "personal" } | { kind: "service"; serviceAccountId: string; serviceAccountName: string };

const EXPIRY_LABELS: Record<(typeof TOKEN_EXPIRY_CHOICES)[number], string> = {
  7: "7 days",
  30: "30 days",
  90: "90 days",
  180: "180 days",
  365: "1 year",
};

export function CreateTokenDialog({ target, folders, disabled }: { target: Target; folders: ScopeFolderOption[]; disabled?: boolean }) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [expiresInDays, setExpiresInDays] = useState("90");
  const [scopes, setScopes] = useState<ScopeDraft[]>(() => [newScopeDraft()]);
  const [readMetrics, setReadMetrics] = useState(false);
  // The token itself is kept in a ref, not in state: React keeps a component's previous state in its
  // other fiber until it renders again, so a token in state could outlive the dialog in memory.
  const [created, setCreated] = useState<Omit<CreatedToken, "token"> | null>(null);
  const token = useRef<string | null>(null);
  // Rows without a folder are not sent, so the server's scopes.N is the Nth row sent, not the Nth shown.
  const [sentKeys, setSentKeys] = useState<string[]>([]);
  const action = (input: CreatePersonalTokenInput) =>
    target.kind === "personal"
      ? createPersonalTokenAction(input)
      : createServiceAccountTokenAction({ ...input, serviceAccountId: target.serviceAccountId, tenantPermissions: readMetrics ? ["metrics.read"] : [] });
  const create = useServerAction(action, {
    onSuccess: ({ token: value, ...rest }) => {
      token.current = value;
      setCreated(rest);
    },
  });

  function reset() {
    setName("");
    setExpiresInDays("90");
    setScopes([newScopeDraft()]);
    setReadMetrics(false);
    setSentKeys([]);
    // The only copy of the token in the browser goes with the dialog.
    token.current = null;
    setCreated(null);
    create.reset();
  }

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    const sent = scopes.filter((s) => s.folderId);
    setSentKeys(sent.map((s) => s.key));
    await create.run({
      name,
      expiresInDays: Number(expiresInDays),
      scopes: sent.map(({ folderId, permissions }) => ({ folderId, permissions })),
    });
  }

  const scopesError = create.fieldError("scopes");
  const title = target.kind === "personal" ? "New personal access token" : `New token for ${target.serviceAccountName}`;

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        setOpen(next);
        if (!next) reset();
      }}
    >
      <DialogTrigger asChild>
        <Button
          variant={target.kind === "service" ? "outline" : "default"}
          size={target.kind === "service" ? "sm" : "default"}
          // A service account's token may carry only the metrics permission, which needs no folder.
          disabled={disabled || (folders.length === 0 && target.kind === "personal")}
          data-service-account={target.kind === "service" ? target.serviceAccountId : undefined}
          // Each service account has one: the name says whose (the personal one is alone in its section).
          aria-label={target.kind === "service" ? `New token for ${target.serviceAccountName}` : undefined}
        >
          <KeyRoundIcon aria-hidden="true" /> New token
        </Button>
      </DialogTrigger>
      <DialogContent
        className="max-h-[90vh] overflow-y-auto sm:max-w-xl"
        // A stray click, Escape or the close button must not throw away the only copy of a new
        // token: once it is shown, only “I have copied it” closes the dialog.
        showCloseButton={!created}
        onInteractOutside={(e) => {
          if (created) e.preventDefault();
        }}
        onEscapeKeyDown={(e) => {
          if (created) e.preventDefault();
        }}
      >
        {created && token.current ? (
          <TokenReveal
            created={{ ...created, token: token.current }}
            onDone={() => {
              setOpen(false);
              reset();
            }}
          />
        ) : (
          <form onSubmit={submit} noValidate className="grid gap-5">
            <DialogHeader>
              <DialogTitle>{title}</DialogTitle>
              <DialogDescription>
                {target.kind === "personal"
                  ? "The token acts as you, only in the folders you choose, and never beyond what you can do yourself."
                  : "The service account can do exactly what its tokens allow, in the folders you choose and their subfolders."}
              </DialogDescription>
            </DialogHeader>
            <FormField label="Name" id="token-name" error={create.fieldError("name")} description="What uses it, e.g. “Nightly backup runner”." required>
              <Input value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" maxLength={300} autoFocus />
            </FormField>
            <FormField label="Expires after" id="token-expiry" error={create.fieldError("expiresInDays")} required>
              <Select value={expiresInDays} onValueChange={setExpiresInDays}>
                <SelectTrigger>
                  <SelectValue />
                </SelectTrigger>
                <SelectContent>
                  {TOKEN_EXPIRY_CHOICES.map((days) => (
                    <SelectItem key={days} value={String(days)}>
                      {EXPIRY_LABELS[days]}
                    </SelectItem>
                  ))}
                </SelectContent>
              </Select>
            </FormField>
            <div role="group" aria-labelledby="token-scopes-label" aria-describedby={scopesError ? "token-scopes-error" : undefined} className="grid gap-2">
              <p className="text-sm font-medium" id="token-scopes-label">
                Folders and permissions
              </p>
              <p className="-mt-1 text-[0.8125rem] text-muted-foreground">Each grant also applies to the folder’s subfolders.</p>
              {folders.length > 0 ? (
                <ScopeEditor
                  folders={folders}
                  value={scopes}
                  onChange={(next) => {
                    setScopes(next);
                    // "Add at least one folder." no longer holds once one is chosen.
                    if (next.some((s) => s.folderId)) create.clearErrors(["scopes"]);
                  }}
                  errorFor={(i) => {
                    const sentAt = sentKeys.indexOf(scopes[i]?.key ?? "");
                    return sentAt < 0 ? null : (create.fieldError(`scopes.${sentAt}.permissions`) ?? create.fieldError(`scopes.${sentAt}.folderId`));
                  }}
                />
              ) : (
                <p className="rounded-md border border-dashed px-3 py-2 text-sm text-muted-foreground">No folders yet. Create one to give this token a folder.</p>
              )}
              {/* Inside the group, before its error: "…or allow reading metrics" names this box. */}
              {target.kind === "service" ? (
                <div className="flex items-start gap-2 rounded-md border px-3 py-2">
                  <Checkbox id="token-metrics" checked={readMetrics} onCheckedChange={(checked) => setReadMetrics(checked === true)} />
                  <Label htmlFor="token-metrics" className="grid gap-0.5 font-normal">
                    <span>{TENANT_PERMISSION_LABELS["metrics.read"]}</span>
                    <span className="text-xs text-muted-foreground">
                      <code>metrics.read</code> · for a Prometheus scraper; tenant-wide, opens no folder. A token may carry only this.
                    </span>
                  </Label>
                </div>
              ) : null}
              {scopesError ? (
                <p id="token-scopes-error" role="alert" className="text-[0.8125rem] font-medium text-danger">
                  {scopesError}
                </p>
              ) : null}
            </div>
            <DialogFormFooter formError={create.formError} pending={create.pending} submitLabel="Create token" pendingLabel="Creating…" />
          </form>
        )}
      </DialogContent>
    </Dialog>
  );
}

/** The one moment the token exists outside the caller's hands: copy it, then it is gone. */
function TokenReveal({ created, onDone }: { created: CreatedToken; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  // The field's value goes with it. A removed element can stay reachable for a while (React keeps
  // the last focused text field for its select events, Chromium the page's form state for history),
  // and with it the value React wrote to its property, its value attribute and its change tracker.
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => {
    const input = field.current;
    return () => {
      if (!input) return;
      input.value = "";
      input.removeAttribute("value");
    };
  }, []);
  async function copy() {
    if (await copyText(created.token, "Token")) setCopied(true);
  }
  return (
    <div className="grid gap-5">
      <DialogHeader>
        <DialogTitle>Token “{created.row.name}” created</DialogTitle>
        <DialogDescription>
          Give it to the runner as an HTTP header: <code className="font-mono text-[0.8125rem]">Authorization: Bearer &lt;token&gt;</code>.
        </DialogDescription>
      </DialogHeader>
      <div role="alert" className="flex gap-2 rounded-md border border-warning/30 bg-warning/10 px-3 py-2 text-sm">
        <TriangleAlertIcon className="mt-0.5 size-4 shrink-0 text-warning" aria-hidden="true" />
        <p>
          <strong>Copy it now: you will not see it again.</strong> Latch keeps only a hash. If it is lost, revoke it and create a new one.
        </p>
      </div>
      <div className="grid gap-2">
        <Label htmlFor="created-token">Token</Label>
        <div className="flex gap-2">
          <Input ref={field} id="created-token" readOnly value={created.token} className="font-mono text-xs" spellCheck={false} onFocus={(e) => e.currentTarget.select()} />
          {/* The form's submit button is gone: focus goes to what the person does next, not to the dialog itself. */}
          <Button type="button" variant="outline" onClick={copy} aria-label={copied ? "Token copied" : "Copy token"} autoFocus>
            {copied ? <CheckIcon aria-hidden="true" /> : <CopyIcon aria-hidden="true" />}
            {copied ? "Copied" : "Copy"}
          </Button>
        </div>
        <p className="text-[0.8125rem] text-muted-foreground">
          Expires <LocalTime value={created.row.expiresAt} style="date" />.
        </p>
      </div>
      <DialogFooter>
        <Button type="button" onClick={onDone}>
          I have copied it
        </Button>
      </DialogFooter>
    </div>
  );
}
