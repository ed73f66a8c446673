import { StatusBadge } from "@/components/shared/status-badge";
import { LocalTime } from "@/components/shared/local-time";


export function StoreHealth({ lastTest }: { lastTest: { at: Date; ok: boolean; message: string } | null }) {
  if (!lastTest) return <StatusBadge tone="neutral">Not tested</StatusBadge>;
  return (
    <span className="inline-flex flex-col gap-0.5" title={lastTest.message}>
      <StatusBadge tone={lastTest.ok ? "success" : "danger"}>{lastTest.ok ? "Healthy" : "Failing"}</StatusBadge>
      <LocalTime value={lastTest.at} className="text-xs text-muted-foreground" />
    </span>
  );
}
