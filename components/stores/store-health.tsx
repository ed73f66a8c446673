import { StatusBadge } from "@/components/shared/status-badge";

const timeFormat = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeStyle: "short" });

export function StoreHealth({ lastTest }: { lastTest: { at: Date; ok: boolean; message: string } | null }) {
  if (!lastTest) return <StatusBadge tone="neutral">Not tested</StatusBadge>;
  return (
    <span className="inline-flex flex-col gap-0.5" title={lastTest.message}>
      <StatusBadge tone={lastTest.ok ? "success" : "danger"}>{lastTest.ok ? "Healthy" : "Failing"}</StatusBadge>
      <time dateTime={lastTest.at.toISOString()} className="text-xs text-muted-foreground">
        {timeFormat.format(lastTest.at)}
      </time>
    </span>
  );
}
