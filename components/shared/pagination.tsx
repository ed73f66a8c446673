"use client";

import * as React from "react";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { ChevronLeftIcon, ChevronRightIcon } from "lucide-react";

import { cn } from "@/lib/utils";
import { buttonVariants } from "@/components/ui/button";

export type PaginationProps = {
  /** 1-based current page. */
  page: number;
  pageSize: number;
  total: number;
  /** URL search param holding the page number. */
  paramName?: string;
  /** Search params the links to pages after the first carry (and the first drops): e.g. the time a growing list is read at. */
  pin?: Record<string, string>;
  className?: string;
};

const numberFormat = new Intl.NumberFormat("en-US");

/**
 * "Showing 21–40 of 53" plus Previous/Next links that keep every other search param. Page 1 is
 * written as "no param". Nothing at all when there is nothing to page through: the list's empty
 * state already says so. Uses useSearchParams: in a statically rendered route wrap it in <Suspense>.
 */
export function Pagination({ page, pageSize, total, paramName = "page", pin, className }: PaginationProps) {
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const router = useRouter();

  const pageCount = Math.max(1, Math.ceil(total / Math.max(1, pageSize)));
  const current = Math.min(Math.max(1, Math.trunc(page) || 1), pageCount);
  const from = total === 0 ? 0 : (current - 1) * pageSize + 1;
  const to = Math.min(total, current * pageSize);

  function hrefFor(target: number): string {
    const params = new URLSearchParams(searchParams.toString());
    if (target <= 1) params.delete(paramName);
    else params.set(paramName, String(target));
    for (const [name, value] of Object.entries(pin ?? {})) {
      if (target <= 1) params.delete(name);
      else params.set(name, value);
    }
    const qs = params.toString();
    return qs ? `${pathname}?${qs}` : pathname;
  }

  const hasPrevious = current > 1;
  const hasNext = current < pageCount;
  // A page past the end (a stale link, or the list shrank) shows no rows, and the list would say it
  // is empty: go to the last page there is instead.
  const pastEnd = total > 0 && Math.trunc(page) > pageCount;
  const lastPage = hrefFor(pageCount);
  React.useEffect(() => {
    if (pastEnd) router.replace(lastPage);
  }, [pastEnd, lastPage, router]);
  if (total === 0) return null;

  return (
    <nav
      aria-label="Pagination"
      className={cn("flex flex-col-reverse items-center justify-between gap-3 sm:flex-row", className)}
    >
      <p className="text-sm text-muted-foreground" aria-live="polite">
        Showing <span className="font-medium text-foreground">{numberFormat.format(from)}</span>–
        <span className="font-medium text-foreground">{numberFormat.format(to)}</span> of{" "}
        <span className="font-medium text-foreground">{numberFormat.format(total)}</span>
      </p>
      <div className="flex items-center gap-2">
        <span className="mr-1 hidden text-sm text-muted-foreground sm:inline">
          Page {current} of {pageCount}
        </span>
        <PageLink href={hasPrevious ? hrefFor(current - 1) : undefined} label="Previous page">
          <ChevronLeftIcon aria-hidden="true" />
          Previous
        </PageLink>
        <PageLink href={hasNext ? hrefFor(current + 1) : undefined} label="Next page">
          Next
          <ChevronRightIcon aria-hidden="true" />
        </PageLink>
      </div>
    </nav>
  );
}

function PageLink({ href, label, children }: { href: string | undefined; label: string; children: React.ReactNode }) {
  const className = cn(buttonVariants({ variant: "outline", size: "sm" }), "gap-1");
  if (!href) {
    // A link with no destination: still found as role "link" by name, but announced as disabled.
    return (
      // eslint-disable-next-line jsx-a11y/anchor-is-valid
      <a role="link" aria-label={label} aria-disabled="true" className={className}>
        {children}
      </a>
    );
  }
  return (
    <Link href={href} aria-label={label} className={className} scroll={false} prefetch={false}>
      {children}
    </Link>
  );
}
