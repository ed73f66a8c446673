import * as React from "react";
import type { LucideIcon } from "lucide-react";

import { cn } from "@/lib/utils";

export type EmptyStateProps = {
  /** A lucide icon component (e.g. `FolderIcon`) or any decorative node. */
  icon?: LucideIcon | React.ReactNode;
  title: React.ReactNode;
  description?: React.ReactNode;
  /** Usually a <Button> or <Button asChild><Link/></Button>. */
  action?: React.ReactNode;
  /** Heading element for the title; pick the level that fits the page outline. */
  headingAs?: "h2" | "h3" | "p";
  className?: string;
};

function isComponent(icon: unknown): icon is LucideIcon {
  return typeof icon === "function" || (typeof icon === "object" && icon !== null && "render" in icon);
}

export function EmptyState({ icon, title, description, action, headingAs = "h2", className }: EmptyStateProps) {
  const Heading = headingAs;
  let iconNode: React.ReactNode = null;
  if (isComponent(icon)) {
    const Icon = icon;
    iconNode = <Icon className="size-5" aria-hidden="true" />;
  } else if (icon) {
    iconNode = icon;
  }

  return (
    <div
      data-slot="empty-state"
      className={cn("flex flex-col items-center justify-center gap-3 px-6 py-12 text-center", className)}
    >
      {iconNode ? (
        <div className="flex size-11 items-center justify-center rounded-full border bg-muted/60 text-muted-foreground shadow-xs">
          {iconNode}
        </div>
      ) : null}
      <div className="flex max-w-sm flex-col gap-1">
        <Heading className="text-base font-semibold text-foreground">{title}</Heading>
        {description ? <p className="text-sm text-muted-foreground">{description}</p> : null}
      </div>
      {action ? <div className="mt-2 flex flex-wrap items-center justify-center gap-2">{action}</div> : null}
    </div>
  );
}
