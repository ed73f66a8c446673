"use client";

import * as React from "react";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { ChevronRightIcon, FolderIcon, FolderOpenIcon } from "lucide-react";

import { cn } from "@/lib/utils";

export type FolderTreeItem = {
  id: string;
  name: string;
  parentId: string | null;
};

export type FolderTreeProps = {
  folders: ReadonlyArray<FolderTreeItem>;
  /** Accessible name of the tree. */
  label?: string;
  /** Links go to `${basePath}/${id}`; the active folder is read from the same prefix. */
  basePath?: string;
  className?: string;
};

type TreeNode = { item: FolderTreeItem; children: TreeNode[] };
type VisibleRow = { node: TreeNode; level: number; parentId: string | null };

function buildTree(folders: ReadonlyArray<FolderTreeItem>) {
  const byId = new Map<string, TreeNode>();
  for (const item of folders) byId.set(item.id, { item, children: [] });

  const roots: TreeNode[] = [];
  for (const node of byId.values()) {
    const parent = node.item.parentId ? byId.get(node.item.parentId) : undefined;
    // A parent the viewer cannot see (absent from the list) makes the folder a root.
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }

  // Guard against cycles in bad data: anything unreachable from a root becomes a root.
  const reached = new Set<string>();
  const mark = (node: TreeNode) => {
    if (reached.has(node.item.id)) return;
    reached.add(node.item.id);
    node.children.forEach(mark);
  };
  roots.forEach(mark);
  for (const node of byId.values()) {
    if (!reached.has(node.item.id)) {
      const parent = node.item.parentId ? byId.get(node.item.parentId) : undefined;
      if (parent) parent.children = parent.children.filter((child) => child !== node);
      roots.push(node);
      mark(node);
    }
  }

  // One locale on the server and in every browser: a browser's own order (Swedish puts "Ä" after "Z")
  // would not match the server-rendered tree, and React would throw the hydration away.
  const collator = new Intl.Collator("en", { sensitivity: "base", numeric: true });
  const sort = (nodes: TreeNode[]) => {
    nodes.sort((a, b) => collator.compare(a.item.name, b.item.name));
    nodes.forEach((node) => sort(node.children));
  };
  sort(roots);

  return { roots, byId };
}

function ancestorsOf(id: string, byId: Map<string, TreeNode>): string[] {
  const result: string[] = [];
  const seen = new Set<string>([id]);
  let parentId = byId.get(id)?.item.parentId ?? null;
  while (parentId && byId.has(parentId) && !seen.has(parentId)) {
    result.push(parentId);
    seen.add(parentId);
    parentId = byId.get(parentId)?.item.parentId ?? null;
  }
  return result;
}

function activeIdFrom(pathname: string, basePath: string): string | null {
  const prefix = `${basePath.replace(/\/$/, "")}/`;
  if (!pathname.startsWith(prefix)) return null;
  const segment = pathname.slice(prefix.length).split("/")[0];
  return segment ? decodeURIComponent(segment) : null;
}

/**
 * ARIA tree of folders with a roving tabindex: the focused treeitem is the single tab stop;
 * its link and chevron stay clickable but out of the tab order, and the keys drive them.
 */
export function FolderTree({ folders, label = "Folders", basePath = "/folders", className }: FolderTreeProps) {
  const pathname = usePathname();
  const router = useRouter();
  const { roots, byId } = React.useMemo(() => buildTree(folders), [folders]);
  const activeId = activeIdFrom(pathname, basePath);
  const activeInTree = activeId !== null && byId.has(activeId);

  const [expanded, setExpanded] = React.useState<Set<string>>(() =>
    activeInTree && activeId ? new Set(ancestorsOf(activeId, byId)) : new Set(),
  );
  const [focusedId, setFocusedId] = React.useState<string | null>(null);
  const itemRefs = React.useRef(new Map<string, HTMLLIElement>());
  const typeahead = React.useRef({ text: "", at: 0 });
  // The tree can be mounted twice (desktop sidebar and mobile drawer); keep element ids unique.
  const idPrefix = React.useId();

  // Navigating to a folder (or the list loading) opens the path to it, keeping manual state.
  const [syncedFor, setSyncedFor] = React.useState<string | null>(activeInTree ? activeId : null);
  if (activeInTree && activeId && syncedFor !== activeId) {
    setSyncedFor(activeId);
    const missing = ancestorsOf(activeId, byId).filter((id) => !expanded.has(id));
    if (missing.length > 0) setExpanded(new Set([...expanded, ...missing]));
  }

  const visible = React.useMemo(() => {
    const rows: VisibleRow[] = [];
    const walk = (nodes: TreeNode[], level: number, parentId: string | null) => {
      for (const node of nodes) {
        rows.push({ node, level, parentId });
        if (node.children.length > 0 && expanded.has(node.item.id)) walk(node.children, level + 1, node.item.id);
      }
    };
    walk(roots, 1, null);
    return rows;
  }, [roots, expanded]);

  const tabStopId =
    (focusedId && visible.some((row) => row.node.item.id === focusedId) && focusedId) ||
    (activeId && visible.some((row) => row.node.item.id === activeId) && activeId) ||
    visible[0]?.node.item.id ||
    null;

  const focusItem = (id: string | undefined) => {
    if (!id) return;
    setFocusedId(id);
    itemRefs.current.get(id)?.focus();
  };

  const toggle = (id: string, open?: boolean) => {
    setExpanded((current) => {
      const next = new Set(current);
      const shouldOpen = open ?? !next.has(id);
      if (shouldOpen) next.add(id);
      else next.delete(id);
      return next;
    });
  };

  function onKeyDown(event: React.KeyboardEvent<HTMLLIElement>, row: VisibleRow) {
    if (event.target !== event.currentTarget) return;
    const id = row.node.item.id;
    const index = visible.findIndex((r) => r.node.item.id === id);
    const hasChildren = row.node.children.length > 0;
    const isOpen = expanded.has(id);

    switch (event.key) {
      case "ArrowDown":
        focusItem(visible[index + 1]?.node.item.id);
        break;
      case "ArrowUp":
        focusItem(visible[index - 1]?.node.item.id);
        break;
      case "Home":
        focusItem(visible[0]?.node.item.id);
        break;
      case "End":
        focusItem(visible[visible.length - 1]?.node.item.id);
        break;
      case "ArrowRight":
        if (hasChildren && !isOpen) toggle(id, true);
        else if (hasChildren) focusItem(row.node.children[0]?.item.id);
        break;
      case "ArrowLeft":
        if (hasChildren && isOpen) toggle(id, false);
        else if (row.parentId) focusItem(row.parentId);
        break;
      case "Enter":
        router.push(`${basePath}/${encodeURIComponent(id)}`);
        break;
      default: {
        if (event.key.length !== 1 || event.ctrlKey || event.metaKey || event.altKey) return;
        // Type-ahead: jump to the next visible folder whose name starts with the typed text.
        const now = Date.now();
        const state = typeahead.current;
        state.text = now - state.at > 700 ? event.key.toLowerCase() : state.text + event.key.toLowerCase();
        state.at = now;
        const ordered = [...visible.slice(index + 1), ...visible.slice(0, index + 1)];
        const match =
          ordered.find((r) => r.node.item.name.toLowerCase().startsWith(state.text)) ??
          ordered.find((r) => r.node.item.name.toLowerCase().startsWith(event.key.toLowerCase()));
        if (!match) return;
        focusItem(match.node.item.id);
      }
    }
    event.preventDefault();
    event.stopPropagation();
  }

  if (folders.length === 0) {
    return <p className={cn("px-2 py-1 text-xs text-sidebar-muted-foreground", className)}>No folders yet</p>;
  }

  const renderNodes = (nodes: TreeNode[], level: number, parentId: string | null): React.ReactNode =>
    nodes.map((node) => {
      const { id, name } = node.item;
      const hasChildren = node.children.length > 0;
      const isOpen = hasChildren && expanded.has(id);
      const isActive = id === activeId;
      const linkId = `${idPrefix}-${id}`;
      const row: VisibleRow = { node, level, parentId };

      return (
        <li
          key={id}
          ref={(el) => {
            if (el) itemRefs.current.set(id, el);
            else itemRefs.current.delete(id);
          }}
          role="treeitem"
          aria-level={level}
          aria-selected={isActive}
          aria-expanded={hasChildren ? isOpen : undefined}
          aria-labelledby={linkId}
          tabIndex={id === tabStopId ? 0 : -1}
          onKeyDown={(event) => onKeyDown(event, row)}
          onFocus={(event) => {
            if (event.target === event.currentTarget) setFocusedId(id);
          }}
          className="outline-none [&:focus-visible>div]:ring-2 [&:focus-visible>div]:ring-ring"
        >
          <div
            className={cn(
              "group/row flex h-7 items-center gap-0.5 rounded-md pr-1.5 text-[0.8125rem] text-sidebar-foreground/85 transition-colors hover:bg-sidebar-accent/60 hover:text-sidebar-foreground",
              isActive && "bg-sidebar-accent font-medium text-sidebar-accent-foreground hover:bg-sidebar-accent",
            )}
            style={{ paddingLeft: `${(level - 1) * 0.75 + 0.125}rem` }}
          >
            {hasChildren ? (
              <button
                type="button"
                tabIndex={-1}
                aria-label={`${isOpen ? "Collapse" : "Expand"} ${name}`}
                onClick={() => toggle(id)}
                className="inline-flex size-5 shrink-0 items-center justify-center rounded-sm text-sidebar-muted-foreground outline-none hover:bg-sidebar-accent hover:text-sidebar-foreground"
              >
                <ChevronRightIcon
                  className={cn("size-3.5 transition-transform duration-150", isOpen && "rotate-90")}
                  aria-hidden="true"
                />
              </button>
            ) : (
              <span className="size-5 shrink-0" aria-hidden="true" />
            )}
            <Link
              id={linkId}
              href={`${basePath}/${encodeURIComponent(id)}`}
              tabIndex={-1}
              aria-current={isActive ? "page" : undefined}
              title={name}
              onClick={() => setFocusedId(id)}
              className="flex min-w-0 flex-1 items-center gap-1.5 self-stretch rounded-sm outline-none"
            >
              {isOpen ? (
                <FolderOpenIcon
                  className={cn("size-4 shrink-0", isActive ? "text-primary" : "text-sidebar-muted-foreground")}
                  aria-hidden="true"
                />
              ) : (
                <FolderIcon
                  className={cn("size-4 shrink-0", isActive ? "text-primary" : "text-sidebar-muted-foreground")}
                  aria-hidden="true"
                />
              )}
              <span className="truncate">{name}</span>
            </Link>
          </div>
          {isOpen ? (
            <ul role="group" className="mt-px flex flex-col gap-px">
              {renderNodes(node.children, level + 1, id)}
            </ul>
          ) : null}
        </li>
      );
    });

  return (
    <ul role="tree" aria-label={label} className={cn("flex flex-col gap-px", className)}>
      {renderNodes(roots, 1, null)}
    </ul>
  );
}
