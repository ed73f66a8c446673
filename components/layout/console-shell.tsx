import * as React from "react";

import { AppHeader } from "@/components/layout/app-header";
import { AppSidebar, MobileSidebar, type NavAccess } from "@/components/layout/app-sidebar";
import { SessionEndedProvider } from "@/components/auth/session-ended";
import { FocusAfterNavigation } from "@/components/layout/focus-after-navigation";

export type ConsoleShellProps = {
  user: { name: string; email: string };
  /** Which gated areas the navigation links to. Cosmetic only: every route authorises on the server. */
  access: NavAccess;
  /** Usually <FolderTree folders={...} />; rendered in both the sidebar and the mobile drawer. */
  folderTree?: React.ReactNode;
  /** Usually <Breadcrumbs items={...} />. */
  breadcrumbs?: React.ReactNode;
  children: React.ReactNode;
};

/** Authenticated layout: skip link, sidebar (drawer below md), sticky header, <main id="main">. */
export function ConsoleShell({ user, access, folderTree, breadcrumbs, children }: ConsoleShellProps) {
  return (
    <SessionEndedProvider email={user.email}>
      <div className="min-h-dvh bg-background">
        <a
          href="#main"
          className="sr-only rounded-md bg-primary px-3 py-2 text-sm font-medium text-primary-foreground shadow-lg focus:not-sr-only focus:fixed focus:top-3 focus:left-3 focus:z-[60]"
        >
          Skip to content
        </a>
        <AppSidebar access={access} folderTree={folderTree} />
        <div className="flex min-h-dvh min-w-0 flex-col md:pl-64">
          <AppHeader
            user={user}
            breadcrumbs={breadcrumbs}
            leading={<MobileSidebar access={access} folderTree={folderTree} />}
          />
          <main id="main" tabIndex={-1} className="mx-auto w-full max-w-7xl flex-1 px-4 py-6 outline-none sm:px-6 lg:px-8 lg:py-8">
            {children}
          </main>
          <FocusAfterNavigation targetId="main" />
        </div>
      </div>
    </SessionEndedProvider>
  );
}
