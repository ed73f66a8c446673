import { StatusBadge } from "@/components/shared/status-badge";
import { LocalTime } from "@/components/shared/local-time";

/**
 * The last test's outcome. `withReason` (lists, where nothing else shows it) also says why a test
 * failed: to screen readers, and on hover; the store's page shows the reason in its own alert.
 * `inline`: the time beside the badge rather than under it (above a page's title, where a
 * connection's status and an asset's type are shown).
 */
export function StoreHealth({ lastTest, withReason = false, inline = false }: { lastTest: { at: Date; ok: boolean; message: string } | null; withReason?: boolean; inline?: boolean }) {
  if (!lastTest) return <StatusBadge tone="neutral">Not tested</StatusBadge>;
  return (
    <span className={inline ? "inline-flex flex-wrap items-center gap-2" : "inline-flex flex-col gap-0.5"} title={lastTest.message}>
      <StatusBadge tone={lastTest.ok ? "success" : "danger"}>{lastTest.ok ? "Healthy" : "Failing"}</StatusBadge>
      {withReason && !lastTest.ok ? <span className="sr-only">Last test failed: {lastTest.message}</span> : null}
      {inline ? (
        <span className="text-xs text-muted-foreground">
          Tested <LocalTime value={lastTest.at} />
        </span>
      ) : (
        <LocalTime value={lastTest.at} className="text-xs text-muted-foreground" />
      )}
    </span>
  );
}
