import * as React from "react";

import { cn } from "@/lib/utils";

export type PageHeaderProps = {
  title: React.ReactNode;
  description?: React.ReactNode;
  /** Buttons/links aligned to the right on wide screens, stacked below on narrow ones. */
  actions?: React.ReactNode;
  /** Small content above the title, e.g. an icon or a status badge. */
  eyebrow?: React.ReactNode;
  className?: string;
};

export function PageHeader({ title, description, actions, eyebrow, className }: PageHeaderProps) {
  return (
    <div
      data-slot="page-header"
      className={cn("flex flex-col gap-4 sm:flex-row sm:items-start sm:justify-between", className)}
    >
      <div className="flex min-w-0 flex-col gap-1">
        {eyebrow ? <div className="mb-1 flex items-center gap-2">{eyebrow}</div> : null}
        {/* Wraps rather than truncates: a long folder or store name is read in full on a phone too. */}
        <h1 className="text-2xl font-semibold tracking-tight text-pretty text-foreground [overflow-wrap:anywhere]">{title}</h1>
        {description ? <p className="max-w-2xl text-sm text-muted-foreground">{description}</p> : null}
      </div>
      {actions ? <div className="flex shrink-0 flex-wrap items-center gap-2">{actions}</div> : null}
    </div>
  );
}
