"use client";

import * as React from "react";
import Link from "next/link";
import { usePathname } from "next/navigation";
import { Dialog as DialogPrimitive } from "radix-ui";
import {
  BookOpenIcon,
  FolderIcon,
  KeyRoundIcon,
  KeySquareIcon,
  MenuIcon,
  ScrollTextIcon,
  SettingsIcon,
  UsersIcon,
  VaultIcon,
  XIcon,
  type LucideIcon,
} from "lucide-react";

import { cn } from "@/lib/utils";
import { Button } from "@/components/ui/button";

export type AppSidebarProps = {
  access: NavAccess;
  /** Rendered under the Folders link, typically <FolderTree folders={...} />. */
  folderTree?: React.ReactNode;
  className?: string;
};

/** `within`: other paths that belong to this section (an asset's and a connection's pages live in a folder). */
type NavItem = { href: string; label: string; icon: LucideIcon; gate?: keyof NavAccess; within?: string[] };

/** Which gated areas to link to. Cosmetic only: every area authorises on the server. */
export type NavAccess = { stores: boolean; audit: boolean; users: boolean; tokens: boolean };

const navItems: NavItem[] = [
  { href: "/folders", label: "Folders", icon: FolderIcon, within: ["/assets", "/connections"] },
  { href: "/stores", label: "Credential stores", icon: VaultIcon, gate: "stores" },
  { href: "/audit", label: "Audit", icon: ScrollTextIcon, gate: "audit" },
  { href: "/users", label: "Users", icon: UsersIcon, gate: "users" },
  { href: "/tokens", label: "API tokens", icon: KeySquareIcon, gate: "tokens" },
  { href: "/api-reference", label: "API reference", icon: BookOpenIcon },
  { href: "/settings", label: "Settings", icon: SettingsIcon },
];

export function LatchMark({ className }: { className?: string }) {
  return (
    <Link
      href="/folders"
      className={cn(
        "flex items-center gap-2.5 rounded-md px-1 py-1 text-sidebar-foreground outline-none focus-visible:ring-2 focus-visible:ring-ring",
        className,
      )}
    >
      <span className="flex size-7 items-center justify-center rounded-lg bg-primary text-primary-foreground shadow-sm ring-1 ring-black/5 ring-inset">
        <KeyRoundIcon className="size-4" strokeWidth={2.25} aria-hidden="true" />
      </span>
      <span className="text-[0.9375rem] font-semibold tracking-tight">Latch</span>
    </Link>
  );
}

function SidebarNav({ access, folderTree }: Pick<AppSidebarProps, "access" | "folderTree">) {
  const pathname = usePathname();
  const items = navItems.filter((item) => !item.gate || access[item.gate]);

  return (
    <nav aria-label="Main" className="flex min-h-0 flex-1 flex-col overflow-y-auto px-3 py-3">
      <ul className="flex flex-col gap-0.5">
        {items.map((item) => {
          const exact = pathname === item.href;
          const within = exact || [item.href, ...(item.within ?? [])].some((href) => pathname.startsWith(`${href}/`));
          const Icon = item.icon;
          return (
            <li key={item.href}>
              <Link
                href={item.href}
                // "page" on the section's own page; "true" while inside it (a folder, a store...).
                aria-current={exact ? "page" : within ? "true" : undefined}
                className={cn(
                  "group flex h-8 items-center gap-2.5 rounded-md px-2 text-sm font-medium text-sidebar-foreground/80 transition-colors outline-none hover:bg-sidebar-accent/60 hover:text-sidebar-foreground focus-visible:ring-2 focus-visible:ring-ring",
                  within && "bg-sidebar-accent text-sidebar-accent-foreground hover:bg-sidebar-accent",
                )}
              >
                <Icon
                  className={cn(
                    "size-4 shrink-0",
                    within ? "text-sidebar-accent-foreground" : "text-sidebar-muted-foreground group-hover:text-sidebar-foreground",
                  )}
                  aria-hidden="true"
                />
                {item.label}
              </Link>
              {item.href === "/folders" && folderTree ? (
                <div className="mt-1 mb-2 ml-3 border-l border-sidebar-border pl-2">{folderTree}</div>
              ) : null}
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

function SidebarFooter() {
  return (
    <div className="border-t border-sidebar-border px-5 py-3 text-xs text-sidebar-muted-foreground">
      Self-hosted credential broker
    </div>
  );
}

/** Fixed left sidebar from the md breakpoint up; below it, use <MobileSidebar> in the header. */
export function AppSidebar({ access, folderTree, className }: AppSidebarProps) {
  return (
    <aside
      className={cn(
        "fixed inset-y-0 left-0 z-30 hidden w-64 flex-col border-r border-sidebar-border bg-sidebar md:flex",
        className,
      )}
    >
      <div className="flex h-14 shrink-0 items-center px-4">
        <LatchMark />
      </div>
      <SidebarNav access={access} folderTree={folderTree} />
      <SidebarFooter />
    </aside>
  );
}

/** Hamburger button ("Open navigation") plus a Radix Dialog drawer holding the same navigation. */
export function MobileSidebar({ access, folderTree, className }: AppSidebarProps) {
  const [open, setOpen] = React.useState(false);
  const pathname = usePathname();

  // Following a link inside the drawer should reveal the page it opened.
  const [lastPath, setLastPath] = React.useState(pathname);
  // Closed by that navigation: focus goes to the page it opened, not back to the button that opened the drawer.
  const [closedByNavigation, setClosedByNavigation] = React.useState(false);
  if (lastPath !== pathname) {
    setLastPath(pathname);
    if (open) {
      setOpen(false);
      setClosedByNavigation(true);
    }
  }

  return (
    <DialogPrimitive.Root open={open} onOpenChange={setOpen}>
      <DialogPrimitive.Trigger asChild>
        <Button variant="ghost" size="icon" className={cn("-ml-2 md:hidden", className)} aria-label="Open navigation">
          <MenuIcon className="size-5" aria-hidden="true" />
        </Button>
      </DialogPrimitive.Trigger>
      <DialogPrimitive.Portal>
        <DialogPrimitive.Overlay className="fixed inset-0 z-50 bg-black/50 data-[state=closed]:animate-out data-[state=open]:animate-in md:hidden" />
        <DialogPrimitive.Content
          aria-describedby={undefined}
          onCloseAutoFocus={(event) => {
            if (!closedByNavigation) return;
            setClosedByNavigation(false);
            event.preventDefault();
            document.getElementById("main")?.focus({ preventScroll: true });
          }}
          className="fixed inset-y-0 left-0 z-50 flex w-72 max-w-[85vw] flex-col border-r border-sidebar-border bg-sidebar shadow-xl outline-none data-[state=closed]:animate-drawer-out data-[state=open]:animate-drawer-in md:hidden"
        >
          <DialogPrimitive.Title className="sr-only">Navigation</DialogPrimitive.Title>
          <div className="flex h-14 shrink-0 items-center justify-between px-4">
            <LatchMark />
            <DialogPrimitive.Close asChild>
              <Button variant="ghost" size="icon-sm" aria-label="Close navigation">
                <XIcon aria-hidden="true" />
              </Button>
            </DialogPrimitive.Close>
          </div>
          <SidebarNav access={access} folderTree={folderTree} />
          <SidebarFooter />
        </DialogPrimitive.Content>
      </DialogPrimitive.Portal>
    </DialogPrimitive.Root>
  );
}
