import { StatusBadge } from "@/components/shared/status-badge";
import { LocalTime } from "@/components/shared/local-time";

/**
 * The last test's outcome. `withReason` (lists, where nothing else shows it) also says why a test
 * failed: to screen readers, and on hover; the store's page shows the reason in its own alert.
 */
export function StoreHealth({ lastTest, withReason = false }: { lastTest: { at: Date; ok: boolean; message: string } | null; withReason?: boolean }) {
  if (!lastTest) return <StatusBadge tone="neutral">Not tested</StatusBadge>;
  return (
    <span className="inline-flex flex-col gap-0.5" title={lastTest.message}>
      <StatusBadge tone={lastTest.ok ? "success" : "danger"}>{lastTest.ok ? "Healthy" : "Failing"}</StatusBadge>
      {withReason && !lastTest.ok ? <span className="sr-only">Last test failed: {lastTest.message}</span> : null}
      <LocalTime value={lastTest.at} className="text-xs text-muted-foreground" />
    </span>
  );
}
