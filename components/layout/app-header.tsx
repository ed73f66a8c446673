import * as React from "react";

import { cn } from "@/lib/utils";
import { ThemeMenu } from "@/components/layout/theme-choice";
import { UserMenu } from "@/components/layout/user-menu";

export type AppHeaderProps = {
  user: { name: string; email: string };
  /** Usually <Breadcrumbs items={...} />. */
  breadcrumbs?: React.ReactNode;
  /** Left-most slot; ConsoleShell puts the mobile navigation button here. */
  leading?: React.ReactNode;
  className?: string;
};

export function AppHeader({ user, breadcrumbs, leading, className }: AppHeaderProps) {
  return (
    <header
      className={cn(
        "sticky top-0 z-20 flex h-14 shrink-0 items-center gap-2 border-b bg-background/85 px-4 backdrop-blur supports-[backdrop-filter]:bg-background/70 sm:px-6 lg:px-8",
        className,
      )}
    >
      {leading}
      <div className="flex min-w-0 flex-1 items-center">{breadcrumbs}</div>
      <div className="flex shrink-0 items-center gap-1">
        <ThemeMenu />
        <UserMenu user={user} />
      </div>
    </header>
  );
}
