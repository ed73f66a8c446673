import { XCircleIcon } from "lucide-react";

/** A form's error that belongs to no field it shows (useServerAction's formError), kept on screen beside the submit button. */
export function FormAlert({ title, message, note }: { title: string; message: string | null; note?: string }) {
  return (
    <div aria-live="polite">
      {message ? (
        <div role="alert" className="grid gap-1 rounded-lg border border-danger/30 bg-danger/5 p-4 text-sm">
          <p className="flex items-center gap-2 font-medium text-danger">
            <XCircleIcon className="size-4 shrink-0" aria-hidden="true" /> {title}
          </p>
          <p>{message}</p>
          {note ? <p className="text-muted-foreground">{note}</p> : null}
        </div>
      ) : null}
    </div>
  );
}
