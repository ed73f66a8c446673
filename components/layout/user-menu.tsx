"use client";

import Link from "next/link";
import { signOut } from "next-auth/react";
import { ChevronsUpDownIcon, LogOutIcon, SettingsIcon } from "lucide-react";

import { Avatar, AvatarFallback } from "@/components/ui/avatar";
import {
  DropdownMenu,
  DropdownMenuContent,
  DropdownMenuItem,
  DropdownMenuLabel,
  DropdownMenuSeparator,
  DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";

export type UserMenuProps = {
  user: { name: string; email: string };
};

function initialsOf(name: string, email: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters =
    words.length >= 2 ? `${words[0]?.[0] ?? ""}${words[words.length - 1]?.[0] ?? ""}` : (words[0] ?? email).slice(0, 2);
  return letters.toUpperCase() || "?";
}

export function UserMenu({ user }: UserMenuProps) {
  const displayName = user.name.trim() || user.email;
  return (
    <DropdownMenu modal={false}>
      <DropdownMenuTrigger
        // The name starts with what is shown (WCAG 2.5.3), so "click Ada Lovelace" works by voice too.
        aria-label={`${displayName}: user menu`}
        className="flex h-9 items-center gap-2 rounded-md px-1.5 text-left text-sm outline-none transition-colors hover:bg-accent focus-visible:ring-2 focus-visible:ring-ring data-[state=open]:bg-accent"
      >
        <Avatar className="size-7" aria-hidden="true">
          {/* Drawn by CSS, not text: decorative initials would otherwise be "visible text" missing from the name. */}
          <AvatarFallback data-initials={initialsOf(user.name, user.email)} className="before:content-[attr(data-initials)]" />
        </Avatar>
        <span className="hidden max-w-40 truncate font-medium lg:inline">{displayName}</span>
        <ChevronsUpDownIcon className="hidden size-3.5 text-muted-foreground lg:inline" aria-hidden="true" />
      </DropdownMenuTrigger>
      <DropdownMenuContent align="end" className="w-60">
        <DropdownMenuLabel className="flex flex-col gap-0.5 font-normal">
          <span className="truncate text-sm font-medium">{displayName}</span>
          <span className="truncate text-xs text-muted-foreground">{user.email}</span>
        </DropdownMenuLabel>
        <DropdownMenuSeparator />
        <DropdownMenuItem asChild>
          <Link href="/settings">
            <SettingsIcon aria-hidden="true" />
            Settings
          </Link>
        </DropdownMenuItem>
        <DropdownMenuSeparator />
        {/* To the sign-in page of the address in use: next-auth's own redirect is built from NEXTAUTH_URL,
            which an operator may not have set (it then points at localhost:3000). */}
        <DropdownMenuItem onSelect={() => void signOut({ redirect: false }).then(() => window.location.assign("/login"))}>
          <LogOutIcon aria-hidden="true" />
          Sign out
        </DropdownMenuItem>
      </DropdownMenuContent>
    </DropdownMenu>
  );
}
