"use client";

import { useInfiniteQuery } from "@tanstack/react-query";
import { LoaderCircleIcon, SearchIcon } from "lucide-react";
import { useEffect, useId, useRef, useState } from "react";
import { AssetTypeBadge } from "@/components/assets/asset-type-badge";
import { useSessionEnded } from "@/components/auth/session-ended";
import { UNREACHABLE } from "@/components/shared/use-server-action";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import type { PickerAsset, PickerFolder } from "@/lib/assets/picker";
import { searchPickableAssetsAction } from "@/lib/connections/actions";
import { cn } from "@/lib/utils";

const ALL = "__all__";

export type PickedAsset = Pick<PickerAsset, "id" | "name" | "type"> & { folderPath: string };

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return debounced;
}

/** What the status region says of a search's results: "1 asset matches “pay”.", "20 or more assets.". */
function resultCount(count: number, more: boolean, search: string): string {
  const one = count === 1 && !more;
  return `${count}${more ? " or more" : ""} ${one ? "asset" : "assets"}${search ? ` ${one ? "matches" : "match"} “${search}”` : ""}.`;
}

/**
 * "Use credential asset": searches, on the server, every folder the person may use. Only Credential
 * and Secret assets can be chosen; settings are listed but disabled. In the search box, arrow keys
 * move, Enter picks; Esc closes.
 */
export function AssetPickerDialog({
  open,
  onOpenChange,
  folders,
  fieldLabel,
  currentAssetId = null,
  onPick,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  folders: PickerFolder[];
  fieldLabel: string;
  /** The asset the field uses now (Change): highlighted and marked when listed. */
  currentAssetId?: string | null;
  onPick: (asset: PickedAsset) => void;
}) {
  const askToSignIn = useSessionEnded();
  const [q, setQ] = useState("");
  const [folderId, setFolderId] = useState<string>(ALL);
  const [active, setActive] = useState(0);
  const search = useDebounced(q, 200);
  const listId = useId();
  const listRef = useRef<HTMLUListElement>(null);

  const query = useInfiniteQuery({
    queryKey: ["asset-picker", search, folderId],
    enabled: open,
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam }) => {
      // A failed request is the browser's own words ("Failed to fetch"): say what it means instead.
      const result = await searchPickableAssetsAction({ q: search, folderId: folderId === ALL ? null : folderId, cursor: pageParam, limit: 20 }).catch(() => {
        throw new Error(UNREACHABLE);
      });
      if (!result.ok) {
        // Signed in again over the picker (the dialog says why), then "Try again" searches anew.
        if (result.error.code === "UNAUTHENTICATED" && askToSignIn) askToSignIn();
        throw new Error(result.error.message);
      }
      return result.data;
    },
    getNextPageParam: (last) => last.nextCursor,
    // Assets change in other tabs (the one just created to pick here): each opening asks afresh,
    // and a refusal is shown at once rather than retried.
    staleTime: 0,
    refetchOnMount: "always",
    retry: false,
  });
  const rows = query.data?.pages.flatMap((p) => p.rows) ?? [];

  // A new result set starts at the asset the field uses now, if listed, else at its first row that can
  // fill the field (a Text asset listed first is not it), also when the rows arrive after the search changed.
  const firstPage = query.data?.pages[0];
  useEffect(() => {
    const rowsNow = firstPage?.rows ?? [];
    const current = rowsNow.findIndex((row) => row.id === currentAssetId);
    setActive(current >= 0 ? current : Math.max(0, rowsNow.findIndex((row) => row.selectable)));
  }, [search, folderId, firstPage, currentAssetId]);
  useEffect(() => {
    listRef.current?.querySelector<HTMLElement>(`[data-index="${active}"]`)?.scrollIntoView({ block: "nearest" });
  }, [active]);

  // The list on screen answers what was typed (not an earlier search still showing while the new one runs).
  const settled = q === search && !(query.isFetching && !query.isFetchingNextPage);
  const emptyMessage = search ? `No assets match “${search}”.` : folders.length === 0 ? "You may not use assets in any folder." : "No assets in the folders you may use.";
  // Enter pressed before the results for what was typed came in: pick the first of them when they do.
  const [pickWhenSettled, setPickWhenSettled] = useState(false);
  useEffect(() => {
    if (!pickWhenSettled || !settled) return;
    setPickWhenSettled(false);
    // The first asset that can fill this field: a Text asset listed above a Credential is not it.
    const first = query.data?.pages[0]?.rows.find((row) => row.selectable);
    if (first) pick(first);
    // `pick` is this render's, as the effect is: it needs no run of its own when it changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [pickWhenSettled, settled, query.data]);

  function pick(asset: PickerAsset) {
    if (!asset.selectable) return;
    onPick({ id: asset.id, name: asset.name, type: asset.type, folderPath: asset.folder.path });
    onOpenChange(false);
  }

  // Only the search box steers the list (ARIA combobox: focus stays in it, aria-activedescendant names the
  // highlighted option). Keys pressed on the folder filter, "Load more" or the close button keep their own meaning.
  function onSearchKeyDown(e: React.KeyboardEvent<HTMLInputElement>) {
    if (e.nativeEvent.isComposing) return;
    if (e.key === "ArrowDown") {
      e.preventDefault();
      setActive((i) => Math.max(0, Math.min(rows.length - 1, i + 1)));
      if (active >= rows.length - 3 && query.hasNextPage && !query.isFetchingNextPage) void query.fetchNextPage();
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      setActive((i) => Math.max(0, i - 1));
    } else if (e.key === "Enter") {
      e.preventDefault();
      // Results for what was just typed are not in yet: Enter must not pick from the previous list.
      if (!settled) return setPickWhenSettled(true);
      const row = rows[Math.min(active, rows.length - 1)];
      if (row) pick(row);
    }
  }

  const activeRow = rows[active];
  const listShown = !query.isPending && !query.isError && rows.length > 0;
  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent className="sm:max-w-2xl">
        <DialogHeader>
          <DialogTitle>Use credential asset</DialogTitle>
          <DialogDescription>
            For “{fieldLabel}”. Assets from every folder you may use (of a Credential asset, the password is used); the value is read from its store when
            the connection needs it and never shown.
          </DialogDescription>
        </DialogHeader>
        <div className="grid gap-3 sm:grid-cols-[1fr_14rem]">
          <div className="relative">
            <SearchIcon className="pointer-events-none absolute top-1/2 left-2.5 size-4 -translate-y-1/2 text-muted-foreground" aria-hidden="true" />
            <Input
              autoFocus
              role="combobox"
              aria-label="Search assets"
              // Expanded only while the list of options is on screen (not while searching, failed or empty).
              aria-controls={listShown ? listId : undefined}
              aria-expanded={listShown}
              aria-autocomplete="list"
              aria-activedescendant={activeRow && listShown ? `${listId}-${activeRow.id}` : undefined}
              onKeyDown={onSearchKeyDown}
              placeholder="Search by name…"
              // What the search accepts (lib/assets/picker.ts): a longer paste would only fail again.
              maxLength={100}
              value={q}
              onChange={(e) => {
                setQ(e.target.value);
                setPickWhenSettled(false);
              }}
              className="pl-8"
            />
          </div>
          <Select value={folderId} onValueChange={setFolderId}>
            <SelectTrigger aria-label="Folder" className="w-full">
              <SelectValue />
            </SelectTrigger>
            <SelectContent>
              <SelectItem value={ALL}>All folders</SelectItem>
              {/* The whole path, in the list and in the closed field: two folders may share a name ("Prod" under Finance and under HR). */}
              {folders.map((f) => {
                const parent = f.path.slice(0, Math.max(0, f.path.length - f.name.length - 3));
                return (
                  <SelectItem key={f.id} value={f.id} textValue={f.path}>
                    {parent ? <span className="text-muted-foreground">{parent} / </span> : null}
                    {f.name}
                  </SelectItem>
                );
              })}
            </SelectContent>
          </Select>
        </div>
        <div className="max-h-[22rem] min-h-[10rem] overflow-y-auto rounded-md border">
          {/* Always there, so screen readers hear each search's outcome: the list is replaced, which nothing announces. */}
          <div role="status">
            {query.isPending || query.isError ? null : rows.length === 0 ? (
              <p className="p-4 text-sm text-muted-foreground">{emptyMessage}</p>
            ) : settled ? (
              <span className="sr-only">{resultCount(rows.length, query.hasNextPage, search)}</span>
            ) : null}
          </div>
          {query.isPending ? (
            <p role="status" className="flex items-center gap-2 p-4 text-sm text-muted-foreground">
              <LoaderCircleIcon className="size-4 animate-spin" aria-hidden="true" /> Searching…
            </p>
          ) : query.isError ? (
            <div role="alert" className="flex flex-col items-start gap-3 p-4 text-sm text-danger">
              <p>{query.error.message}</p>
              <Button type="button" variant="outline" size="sm" onClick={() => void query.refetch()}>
                Try again
              </Button>
            </div>
          ) : rows.length === 0 ? null : (
            <ul id={listId} ref={listRef} role="listbox" aria-label="Assets" aria-busy={!settled || undefined} className="divide-y">
              {rows.map((row, index) => (
                // The keys are the search box's (aria-activedescendant points at the active row); a click picks too.
                // eslint-disable-next-line jsx-a11y/click-events-have-key-events
                <li
                  key={row.id}
                  id={`${listId}-${row.id}`}
                  data-index={index}
                  role="option"
                  aria-selected={index === active}
                  aria-disabled={!row.selectable || undefined}
                  onMouseMove={() => index !== active && setActive(index)}
                  onClick={() => pick(row)}
                  className={cn(
                    "grid min-w-0 cursor-pointer gap-1 px-3 py-2 text-sm",
                    // The row Enter picks: an inset outline in the primary colour (the tint alone was barely visible).
                    index === active && "bg-muted ring-2 ring-primary ring-inset",
                    !row.selectable && "cursor-not-allowed opacity-60",
                  )}
                >
                  <span className="flex items-center justify-between gap-3">
                    <span className="min-w-0 font-medium [overflow-wrap:anywhere]">{row.name}</span>
                    <AssetTypeBadge type={row.type} className="shrink-0" />
                  </span>
                  <span className="text-xs text-muted-foreground [overflow-wrap:anywhere]">
                    {row.id === currentAssetId ? <span className="font-medium text-foreground">In use here · </span> : null}
                    {row.folder.path}
                    {row.store ? ` · ${row.store.name}` : ""}
                    {row.selectable ? "" : " · a setting: only Credential and Secret assets can back a secret field"}
                  </span>
                </li>
              ))}
            </ul>
          )}
          {query.hasNextPage ? (
            <div className="border-t p-2 text-center">
              <Button type="button" variant="ghost" size="sm" onClick={() => void query.fetchNextPage()} disabled={query.isFetchingNextPage}>
                {query.isFetchingNextPage ? "Loading…" : "Load more"}
              </Button>
            </div>
          ) : null}
        </div>
      </DialogContent>
    </Dialog>
  );
}
