/**
 * A field's help as its descriptor writes it: text in `backticks` (a command to run, a path) is shown
 * as code rather than with the backticks themselves.
 */
export function HelpText({ text }: { text: string }) {
  const parts = text.split("`");
  // An odd number of backticks leaves the last one unmatched: shown as written.
  if (parts.length % 2 === 0) return <>{text}</>;
  return (
    <>
      {parts.map((part, i) =>
        i % 2 === 1 ? (
          <code key={i} className="rounded bg-muted px-1 py-0.5 font-mono text-[0.75rem] break-all text-foreground">
            {part}
          </code>
        ) : (
          part
        ),
      )}
    </>
  );
}
