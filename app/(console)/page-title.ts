import "server-only";
import { notFound } from "next/navigation";

/**
 * A page's tab title, refused as the page itself refuses: without this the tab of a refused page
 * named what it hides ("Users · Latch" over "Page not found").
 */
export async function titleIfAllowed(allowed: boolean | Promise<boolean>, title: string): Promise<{ title: string }> {
  if (!(await allowed)) notFound();
  return { title };
}
