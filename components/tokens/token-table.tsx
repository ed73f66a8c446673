import { KeyRoundIcon } from "lucide-react";
import { DataTable, NAME_COLUMN_CLASS } from "@/components/shared/data-table";
import { EmptyState } from "@/components/shared/empty-state";
import { StatusBadge, type StatusTone } from "@/components/shared/status-badge";
import { PERMISSION_LABELS, TENANT_PERMISSION_LABELS } from "@/lib/authz/permissions";
import type { TokenRow, TokenStatus } from "@/lib/tokens/queries";
import { RevokeTokenButton } from "./revoke-token-button";
import { LocalTime } from "@/components/shared/local-time";


const STATUS: Record<TokenStatus, { tone: StatusTone; label: string }> = {
  active: { tone: "success", label: "Active" },
  expired: { tone: "warning", label: "Expired" },
  revoked: { tone: "neutral", label: "Revoked" },
  owner_deactivated: { tone: "warning", label: "Refused: owner deactivated" },
  account_disabled: { tone: "warning", label: "Refused: account disabled" },
};

/** Server-rendered list of tokens (dates in the server's format, like every other list); never a secret. */
export function TokenTable({
  label,
  rows,
  showOwner = false,
  empty,
}: {
  label: string;
  rows: TokenRow[];
  showOwner?: boolean;
  empty?: { title: string; description?: string };
}) {
  return (
    <DataTable
      label={label}
      // On a phone, one card per token: its access list needs the width.
      phoneLayout="cards"
      rows={rows}
      getRowId={(r) => r.id}
      columns={[
        {
          key: "name",
          header: "Token",
          className: NAME_COLUMN_CLASS,
          cell: (r) => (
            <div className="grid">
              <span className="font-medium">{r.name}</span>
              <code className="text-xs text-muted-foreground">{r.prefix}_…</code>
            </div>
          ),
        },
        ...(showOwner
          ? [{ key: "owner", header: "Owner", cell: (r: TokenRow) => <span className="text-sm">{r.owner.kind === "personal" ? r.owner.email : r.owner.name}</span> }]
          : []),
        {
          key: "scopes",
          header: "Access",
          cell: (r) =>
            r.scopes.length === 0 && r.tenantPermissions.length === 0 ? (
              <span className="text-sm text-muted-foreground">No folder left</span>
            ) : (
              <ul className="grid gap-1 text-sm">
                {r.tenantPermissions.map((p) => (
                  <li key={p}>
                    <span className="font-medium">{TENANT_PERMISSION_LABELS[p]}</span>
                  </li>
                ))}
                {r.scopes.map((s) => (
                  <li key={s.folderId}>
                    <span className="font-medium">{s.folderLabel}</span>
                    <span className="text-muted-foreground">
                      {": "}
                      {s.permissions.filter((p) => p !== "folders.read").map((p) => PERMISSION_LABELS[p]).join(", ") || "See the folder"}
                    </span>
                  </li>
                ))}
              </ul>
            ),
        },
        {
          key: "expires",
          header: "Expires",
          cell: (r) => <LocalTime value={r.expiresAt} style="date" className="whitespace-nowrap" />,
          className: "hidden md:table-cell",
        },
        {
          key: "used",
          header: "Last used",
          cell: (r) =>
            r.lastUsedAt ? (
              <div className="grid text-sm">
                <LocalTime value={r.lastUsedAt} />
                {r.lastUsedIp ? <span className="text-xs text-muted-foreground">from {r.lastUsedIp}</span> : null}
              </div>
            ) : (
              <span className="text-sm text-muted-foreground">Never</span>
            ),
          className: "hidden lg:table-cell",
        },
        { key: "status", header: "Status", cell: (r) => <StatusBadge tone={STATUS[r.status].tone}>{STATUS[r.status].label}</StatusBadge> },
        {
          key: "actions",
          header: <span className="sr-only">Actions</span>,
          cell: (r) => (r.status === "revoked" ? null : <RevokeTokenButton token={{ id: r.id, name: r.name, prefix: r.prefix }} />),
          className: "w-24 text-right",
        },
      ]}
      empty={<EmptyState icon={KeyRoundIcon} headingAs="h3" title={empty?.title ?? "No tokens yet"} description={empty?.description} />}
    />
  );
}
