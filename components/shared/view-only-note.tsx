import { EyeIcon } from "lucide-react";

/**
 * Said where a page's actions would be when the person may only look, so that the missing buttons
 * read as the role's limit and not as a fault.
 */
export function ViewOnlyNote({ children }: { children: React.ReactNode }) {
  return (
    <p className="inline-flex items-center gap-1.5 text-sm text-muted-foreground">
      <EyeIcon className="size-4 shrink-0" aria-hidden="true" />
      {children}
    </p>
  );
}
