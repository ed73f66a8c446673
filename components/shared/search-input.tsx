"use client";

import * as React from "react";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { LoaderCircleIcon, SearchIcon, XIcon } from "lucide-react";

import { SEARCH_TEXT_MAX } from "@/lib/list-query";
import { cn } from "@/lib/utils";
import { Input } from "@/components/ui/input";

export type SearchInputProps = {
  /** Accessible name of the search box. */
  label?: string;
  placeholder?: string;
  /** URL search param to write; `page` is always removed when it changes. */
  paramName?: string;
  debounceMs?: number;
  className?: string;
};

/**
 * Debounced search box bound to a URL param (default `q`) via router.replace, so the server page
 * re-renders with the new searchParams. Uses useSearchParams: in a statically rendered route wrap
 * it in <Suspense>.
 */
export function SearchInput({
  label = "Search",
  placeholder = "Search…",
  paramName = "q",
  debounceMs = 300,
  className,
}: SearchInputProps) {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const urlValue = searchParams.get(paramName) ?? "";
  const [value, setValue] = React.useState(urlValue);
  const [isPending, startTransition] = React.useTransition();
  const lastPushed = React.useRef(urlValue);

  // Follow the URL when it changes from outside (back/forward, links), not from our own typing.
  React.useEffect(() => {
    if (urlValue !== lastPushed.current) {
      lastPushed.current = urlValue;
      setValue(urlValue);
    }
  }, [urlValue]);

  const commit = React.useCallback(
    (next: string) => {
      const trimmed = next.trim();
      if (trimmed === lastPushed.current) return;
      lastPushed.current = trimmed;
      const params = new URLSearchParams(searchParams.toString());
      if (trimmed) params.set(paramName, trimmed);
      else params.delete(paramName);
      params.delete("page");
      const qs = params.toString();
      startTransition(() => {
        router.replace(qs ? `${pathname}?${qs}` : pathname, { scroll: false });
      });
    },
    [paramName, pathname, router, searchParams],
  );

  React.useEffect(() => {
    if (value.trim() === lastPushed.current) return;
    const timer = window.setTimeout(() => commit(value), debounceMs);
    return () => window.clearTimeout(timer);
  }, [value, debounceMs, commit]);

  return (
    <div role="search" className={cn("relative w-full sm:max-w-xs", className)}>
      <SearchIcon
        className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-muted-foreground"
        aria-hidden="true"
      />
      <Input
        type="search"
        aria-label={label}
        placeholder={placeholder}
        maxLength={SEARCH_TEXT_MAX}
        value={value}
        onChange={(event) => setValue(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === "Enter") {
            event.preventDefault();
            commit(value);
          } else if (event.key === "Escape" && value) {
            event.preventDefault();
            setValue("");
            commit("");
          }
        }}
        className="pr-9 pl-8 [&::-webkit-search-cancel-button]:hidden"
        autoComplete="off"
        spellCheck={false}
      />
      <div className="absolute top-1/2 right-1.5 flex -translate-y-1/2 items-center">
        {isPending ? (
          <LoaderCircleIcon className="mr-1 size-4 animate-spin text-muted-foreground" aria-hidden="true" />
        ) : value ? (
          <button
            type="button"
            aria-label="Clear search"
            onClick={() => {
              setValue("");
              commit("");
            }}
            className="inline-flex size-6 items-center justify-center rounded-sm text-muted-foreground outline-none hover:bg-accent hover:text-foreground focus-visible:ring-2 focus-visible:ring-ring"
          >
            <XIcon className="size-3.5" aria-hidden="true" />
          </button>
        ) : null}
      </div>
    </div>
  );
}
