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
    // Ids are matched whatever their case (a page opened from a link with the id in capitals).
    const [here, item] = [window.location.pathname.toLowerCase(), itemPath.toLowerCase()];
    if (here === item || here.startsWith(`${item}/`)) router.replace(to);
    router.refresh();
  };
}
