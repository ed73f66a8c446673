import Link from "next/link";
import { ChevronRightIcon } from "lucide-react";

import { cn } from "@/lib/utils";

export type BreadcrumbItem = { label: string; href?: string };

/** The trail every page inside a folder starts with: Folders, then each folder from the top down, as links. */
export function folderCrumbs(path: ReadonlyArray<{ id: string; name: string }>): BreadcrumbItem[] {
  return [{ label: "Folders", href: "/folders" }, ...path.map((f) => ({ label: f.name, href: `/folders/${f.id}` }))];
}

export type BreadcrumbsProps = {
  items: ReadonlyArray<BreadcrumbItem>;
  className?: string;
};

/** The last item is the current page (never a link). Narrow screens show only the last two. */
export function Breadcrumbs({ items, className }: BreadcrumbsProps) {
  if (items.length === 0) return null;
  return (
    <nav aria-label="Breadcrumb" className={cn("min-w-0", className)}>
      <ol className="flex min-w-0 items-center gap-1.5 text-sm text-muted-foreground">
        {items.map((item, index) => {
          const isLast = index === items.length - 1;
          const hiddenOnMobile = index < items.length - 2;
          return (
            <li
              key={`${index}-${item.label}`}
              className={cn(
                "flex min-w-0 items-center gap-1.5",
                // The current name takes what the links above it leave (they keep their width, up to 12rem,
                // unless even its few words would not fit): a shrink weight still clipped them by a pixel.
                isLast ? "min-w-24 flex-1" : "max-w-48",
                hiddenOnMobile && "hidden sm:flex",
              )}
            >
              {index > 0 ? (
                <ChevronRightIcon
                  className={cn("size-3.5 shrink-0 text-muted-foreground/70", index === items.length - 2 && "max-sm:hidden")}
                  aria-hidden="true"
                />
              ) : null}
              {isLast ? (
                <span aria-current="page" className="truncate font-medium text-foreground">
                  {item.label}
                </span>
              ) : item.href ? (
                <Link
                  href={item.href}
                  className="truncate rounded-sm transition-colors outline-none hover:text-foreground focus-visible:ring-2 focus-visible:ring-ring"
                >
                  {item.label}
                </Link>
              ) : (
                <span className="truncate">{item.label}</span>
              )}
            </li>
          );
        })}
      </ol>
    </nav>
  );
}
