import { ScrollTextIcon } from "lucide-react";
import { DataTable } from "@/components/shared/data-table";
import { EmptyState } from "@/components/shared/empty-state";
import { Pagination } from "@/components/shared/pagination";
import { SearchInput } from "@/components/shared/search-input";
import { UrlSelectFilter } from "@/components/shared/url-select-filter";
import { StatusBadge } from "@/components/shared/status-badge";
import { AUDIT_OUTCOMES, type AuditRow } from "@/lib/audit/queries";
import { LocalTime } from "@/components/shared/local-time";
import { describeActor, describeDetails, targetTypeLabel } from "./audit-details";

function Details({ details }: { details: AuditRow["details"] }) {
  const lines = describeDetails(details);
  if (lines.length === 0) return null;
  return (
    <dl className="grid gap-0.5 text-xs text-muted-foreground [overflow-wrap:anywhere]">
      {lines.map((line) => (
        <div key={line.label}>
          <dt className="inline font-medium text-foreground/70">{line.label}:</dt>{" "}
          <dd className="inline" title={line.title}>
            {line.time ? <LocalTime value={line.time} /> : line.text}
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** A narrow column breaks an address before its domain, not at any letter; other text is as given. */
function Email({ address }: { address: string }) {
  const at = address.lastIndexOf("@");
  if (at <= 0) return <>{address}</>;
  return (
    <>
      {address.slice(0, at)}
      <wbr />
      {address.slice(at)}
    </>
  );
}

function Who({ actorEmail }: { actorEmail: string | null }) {
  const actor = describeActor(actorEmail);
  if (actor.kind === "service-account") {
    return (
      <span className="grid text-sm">
        <span className="[overflow-wrap:anywhere]">{actor.name}</span>
        <span className="text-xs text-muted-foreground">Service account</span>
      </span>
    );
  }
  return <span className="text-sm">{actor.kind === "person" ? <Email address={actor.name} /> : actor.name}</span>;
}

export function AuditTable({ rows, total, page, pageSize, q, filtered, asOf }: { rows: AuditRow[]; total: number; page: number; pageSize: number; q: string; filtered: boolean; asOf: Date | null }) {
  return (
    <DataTable
      label="Audit events"
      phoneLayout="cards"
      toolbar={
        <>
          <SearchInput label="Search audit events" placeholder="Action, person, target or request id…" />
          <UrlSelectFilter param="outcome" label="Filter by outcome" allLabel="All outcomes" options={AUDIT_OUTCOMES} className="w-40" />
        </>
      }
      rows={rows}
      getRowId={(r) => r.id}
      columns={[
        {
          key: "when",
          header: "When",
          cell: (r) => (
            <LocalTime value={r.occurredAt} style="seconds" className="whitespace-nowrap text-sm tabular-nums" />
          ),
          className: "w-48",
        },
        { key: "who", header: "Who", cell: (r) => <Who actorEmail={r.actorEmail} /> },
        {
          key: "what",
          header: "What",
          cell: (r) => (
            <div className="grid min-w-48 gap-1">
              <code className="font-mono text-[0.8125rem]">{r.action}</code>
              <Details details={r.details} />
            </div>
          ),
        },
        {
          key: "target",
          header: "Target",
          // A 100-character name without a space (a token's, a folder's) must not push Outcome and Request id
          // out: it breaks anywhere, but only past a width that keeps the kind's own word ("Connection") whole.
          className: "[overflow-wrap:anywhere] min-w-36",
          cell: (r) => (
            <span className="grid text-sm">
              {/* The space keeps "Connection Payroll" two words to a reader and a search; the grid ignores it. */}
              <span className="text-xs text-muted-foreground">{targetTypeLabel(r.targetType)}</span>{" "}
              <Email address={r.targetLabel ?? r.targetId ?? ""} />
            </span>
          ),
        },
        {
          key: "outcome",
          header: "Outcome",
          cell: (r) => (
            <StatusBadge tone={r.outcome === "SUCCESS" ? "success" : r.outcome === "DENIED" ? "warning" : "danger"}>
              {AUDIT_OUTCOMES.find((o) => o.value === r.outcome)?.label ?? r.outcome}
            </StatusBadge>
          ),
        },
        {
          key: "request",
          header: "Request id",
          cell: (r) => <code className="font-mono text-xs text-muted-foreground" title={r.requestId ?? undefined}>{r.requestId?.slice(0, 8) ?? "—"}</code>,
          className: "hidden lg:table-cell",
        },
      ]}
      empty={
        <EmptyState
          icon={ScrollTextIcon}
          title={q || filtered ? "No events match your search" : "No audit events yet"}
          description={q || filtered ? undefined : "Every change made in Latch, and every use of a credential, is recorded here: who, what, when and with what outcome."}
        />
      }
      footer={<Pagination page={page} pageSize={pageSize} total={total} pin={asOf ? { asOf: asOf.toISOString() } : undefined} />}
    />
  );
}
