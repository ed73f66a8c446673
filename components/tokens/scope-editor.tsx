"use client";

import { PlusIcon, XIcon } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Checkbox } from "@/components/ui/checkbox";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { PERMISSION_LABELS, TOKEN_PERMISSIONS, type TokenPermission } from "@/lib/authz/permissions";
import { TOKEN_MAX_SCOPES } from "@/lib/tokens/schemas";
import type { ScopeFolderOption } from "@/lib/tokens/queries";

export type ScopeDraft = { key: string; folderId: string; permissions: TokenPermission[] };

let drafts = 0;
// A counter, not crypto.randomUUID(): that exists only in secure contexts, and consoles are reached over plain http too.
export const newScopeDraft = (): ScopeDraft => ({ key: `s${++drafts}`, folderId: "", permissions: ["folders.read"] });

/**
 * One row per folder: which folder, and what the token may do there (and in its subfolders).
 * Permissions the person does not hold on a folder are shown but cannot be ticked.
 */
export function ScopeEditor({
  folders,
  value,
  onChange,
  errorFor,
}: {
  folders: ScopeFolderOption[];
  value: ScopeDraft[];
  onChange: (next: ScopeDraft[]) => void;
  errorFor: (index: number) => string | null;
}) {
  const update = (index: number, patch: Partial<ScopeDraft>) => onChange(value.map((s, i) => (i === index ? { ...s, ...patch } : s)));
  return (
    <div className="grid gap-3">
      {value.map((scope, index) => {
        const folder = folders.find((f) => f.id === scope.folderId);
        const taken = new Set(value.filter((_, i) => i !== index).map((s) => s.folderId));
        const error = errorFor(index);
        const n = index + 1;
        return (
          <fieldset key={scope.key} className="grid min-w-0 gap-3 rounded-lg border p-3" aria-describedby={error ? `scope-${scope.key}-error` : undefined}>
            <legend className="sr-only">Folder {n}</legend>
            <div className="flex items-end gap-2">
              <div className="grid min-w-0 flex-1 gap-2">
                <Label htmlFor={`scope-${scope.key}-folder`}>Folder {value.length > 1 ? n : ""}</Label>
                <Select
                  value={scope.folderId}
                  onValueChange={(folderId) => {
                    const allowed = folders.find((f) => f.id === folderId)?.allowed ?? [];
                    update(index, { folderId, permissions: scope.permissions.filter((p) => allowed.includes(p)) });
                  }}
                >
                  <SelectTrigger id={`scope-${scope.key}-folder`} aria-invalid={error ? true : undefined}>
                    <SelectValue placeholder="Choose a folder…" />
                  </SelectTrigger>
                  <SelectContent>
                    {folders.map((f) => (
                      <SelectItem key={f.id} value={f.id} disabled={taken.has(f.id)}>
                        {f.label}
                      </SelectItem>
                    ))}
                  </SelectContent>
                </Select>
              </div>
              {value.length > 1 ? (
                <Button type="button" variant="ghost" size="icon" aria-label={`Remove folder ${n}`} onClick={() => onChange(value.filter((_, i) => i !== index))}>
                  <XIcon aria-hidden="true" />
                </Button>
              ) : null}
            </div>
            <div role="group" aria-label={`Permissions on folder ${n}`} className="grid gap-2 sm:grid-cols-2">
              {TOKEN_PERMISSIONS.map((permission) => {
                const id = `scope-${scope.key}-${permission}`;
                const always = permission === "folders.read";
                const held = !folder || folder.allowed.includes(permission);
                return (
                  <div key={permission} className="flex items-start gap-2">
                    <Checkbox
                      id={id}
                      checked={always || scope.permissions.includes(permission)}
                      disabled={always || !folder || !held}
                      onCheckedChange={(checked) =>
                        update(index, {
                          permissions: checked === true ? [...scope.permissions, permission] : scope.permissions.filter((p) => p !== permission),
                        })
                      }
                    />
                    <Label htmlFor={id} className="grid gap-0.5 font-normal">
                      <span>{PERMISSION_LABELS[permission]}</span>
                      <span className="text-xs text-muted-foreground">
                        <code>{permission}</code>
                        {always ? " · always included" : !held ? " · you do not hold this here" : ""}
                      </span>
                    </Label>
                  </div>
                );
              })}
            </div>
            {error ? (
              <p id={`scope-${scope.key}-error`} role="alert" className="text-[0.8125rem] font-medium text-danger">
                {error}
              </p>
            ) : null}
          </fieldset>
        );
      })}
      {value.length < Math.min(TOKEN_MAX_SCOPES, folders.length) ? (
        <div>
          <Button type="button" variant="outline" size="sm" onClick={() => onChange([...value, newScopeDraft()])}>
            <PlusIcon aria-hidden="true" /> Add another folder
          </Button>
        </div>
      ) : null}
    </div>
  );
}
