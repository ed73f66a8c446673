"use client";

import { useRouter } from "next/navigation";

/**
 * After deleting what a page shows, from that page: replaces it with `to` (replaced, so Back does not
 * lead to what no longer exists), but only while the person is still on the item's pages. Someone
 * who went elsewhere while the delete ran (Back, a link in the sidebar) stays where they went, which
 * is refreshed to show the item gone.
 */
export function useLeaveDeleted() {
  const router = useRouter();
  return (itemPath: string, to: string) => {
    const here = window.location.pathname;
    if (here === itemPath || here.startsWith(`${itemPath}/`)) router.replace(to);
    router.refresh();
  };
}
