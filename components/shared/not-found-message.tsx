import { SearchXIcon } from "lucide-react";
import Link from "next/link";
import { Button } from "@/components/ui/button";

/** What "not found" says everywhere: absent and forbidden alike, so it never tells the two apart. */
export function NotFoundMessage() {
  return (
    <div className="flex min-h-[60dvh] flex-col items-center justify-center gap-4 p-8 text-center">
      <SearchXIcon className="size-10 text-muted-foreground" aria-hidden="true" />
      <h1 className="text-2xl font-semibold tracking-tight">Page not found</h1>
      <p className="max-w-md text-muted-foreground">
        This page does not exist, or you do not have access to it. If you followed a link, ask the person who shared it
        to check your access.
      </p>
      <Button asChild variant="outline">
        <Link href="/folders">Go to folders</Link>
      </Button>
    </div>
  );
}
