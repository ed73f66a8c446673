import * as React from "react";

import { AppHeader } from "@/components/layout/app-header";
import { AppSidebar, MobileSidebar } from "@/components/layout/app-sidebar";

export type ConsoleShellProps = {
  user: { name: string; email: string };
  /** Shows admin-only navigation. Cosmetic only: admin routes must authorise on the server. */
  isAdmin: boolean;
  /** Usually <FolderTree folders={...} />; rendered in both the sidebar and the mobile drawer. */
  folderTree?: React.ReactNode;
  /** Usually <Breadcrumbs items={...} />. */
  breadcrumbs?: React.ReactNode;
  children: React.ReactNode;
};

/** Authenticated layout: skip link, sidebar (drawer below md), sticky header, <main id="main">. */
export function ConsoleShell({ user, isAdmin, folderTree, breadcrumbs, children }: ConsoleShellProps) {
  return (
    <div className="min-h-dvh bg-background">
      <a
        href="#main"
        className="sr-only rounded-md bg-primary px-3 py-2 text-sm font-medium text-primary-foreground shadow-lg focus:not-sr-only focus:fixed focus:top-3 focus:left-3 focus:z-[60]"
      >
        Skip to content
      </a>
      <AppSidebar isAdmin={isAdmin} folderTree={folderTree} />
      <div className="flex min-h-dvh min-w-0 flex-col md:pl-64">
        <AppHeader
          user={user}
          breadcrumbs={breadcrumbs}
          leading={<MobileSidebar isAdmin={isAdmin} folderTree={folderTree} />}
        />
        <main id="main" tabIndex={-1} className="mx-auto w-full max-w-7xl flex-1 px-4 py-6 outline-none sm:px-6 lg:px-8 lg:py-8">
          {children}
        </main>
      </div>
    </div>
  );
}
