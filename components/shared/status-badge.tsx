import * as React from "react";

import { cn } from "@/lib/utils";

export type StatusTone = "success" | "warning" | "danger" | "neutral" | "info";

const toneClasses: Record<StatusTone, { badge: string; dot: string }> = {
  success: { badge: "border-success/25 bg-success/10 text-success", dot: "bg-success" },
  warning: { badge: "border-warning/30 bg-warning/10 text-warning", dot: "bg-warning" },
  danger: { badge: "border-danger/25 bg-danger/10 text-danger", dot: "bg-danger" },
  info: { badge: "border-info/25 bg-info/10 text-info", dot: "bg-info" },
  neutral: { badge: "border-border bg-muted text-muted-foreground", dot: "bg-muted-foreground/70" },
};

export type StatusBadgeProps = React.ComponentProps<"span"> & {
  tone?: StatusTone;
  /** Text; colour alone never carries the meaning. Children are used when `label` is absent. */
  label?: React.ReactNode;
};

export function StatusBadge({ tone = "neutral", label, children, className, ...props }: StatusBadgeProps) {
  const classes = toneClasses[tone];
  return (
    <span
      data-slot="status-badge"
      data-tone={tone}
      className={cn(
        "inline-flex w-fit items-center gap-1.5 rounded-full border px-2 py-0.5 text-xs font-medium whitespace-nowrap",
        classes.badge,
        className,
      )}
      {...props}
    >
      <span aria-hidden="true" className={cn("size-1.5 shrink-0 rounded-full", classes.dot)} />
      {label ?? children}
    </span>
  );
}
