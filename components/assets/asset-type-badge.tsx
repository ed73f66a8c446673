import { KeyRoundIcon, LockKeyholeIcon, ToggleLeftIcon, TypeIcon, HashIcon } from "lucide-react";
import { ASSET_TYPE_LABELS, type AssetType } from "@/lib/assets/schemas";
import { cn } from "@/lib/utils";

const ICONS = { CREDENTIAL: KeyRoundIcon, SECRET: LockKeyholeIcon, TEXT: TypeIcon, INTEGER: HashIcon, BOOLEAN: ToggleLeftIcon } as const;

export function AssetTypeBadge({ type, className }: { type: AssetType; className?: string }) {
  const Icon = ICONS[type];
  const secret = type === "CREDENTIAL" || type === "SECRET";
  return (
    <span
      className={cn(
        "inline-flex w-fit items-center gap-1.5 rounded-full border px-2 py-0.5 text-xs font-medium whitespace-nowrap",
        secret ? "border-info/25 bg-info/10 text-info" : "border-border bg-muted text-muted-foreground",
        className,
      )}
    >
      <Icon className="size-3.5" aria-hidden="true" />
      {ASSET_TYPE_LABELS[type]}
    </span>
  );
}
