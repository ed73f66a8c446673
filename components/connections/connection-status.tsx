import type { ConnectionStatus as Status } from "@/lib/connections/dto";
import { StatusBadge } from "@/components/shared/status-badge";

const LABELS: Record<Status, { tone: "success" | "danger" | "warning"; label: string }> = {
  CONNECTED: { tone: "success", label: "Connected" },
  FAILED: { tone: "danger", label: "Failed" },
  PENDING_AUTHORIZATION: { tone: "warning", label: "Waiting for authorisation" },
};

export function ConnectionStatusBadge({ status }: { status: Status }) {
  return <StatusBadge tone={LABELS[status].tone}>{LABELS[status].label}</StatusBadge>;
}
