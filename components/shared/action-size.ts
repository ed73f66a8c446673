import type { ActionError } from "@/lib/actions/action";

/**
 * next.config.ts's serverActions.bodySizeLimit (2 MB; action-size.test.ts checks the two agree), less
 * a margin for the encoding around the values. Next refuses a larger body before Latch's own checks
 * run, and the browser hears only of a failed request: it would say Latch cannot be reached.
 */
export const ACTION_BODY_LIMIT_BYTES = 2 * 1024 * 1024 - 64 * 1024;

/** About how many bytes an action's input takes on the wire (UTF-8 text, files by size). */
export function approximateBytes(input: unknown): number {
  if (typeof FormData !== "undefined" && input instanceof FormData) {
    let bytes = 0;
    for (const [name, value] of input) bytes += new Blob([name]).size + (typeof value === "string" ? new Blob([value]).size : value.size);
    return bytes;
  }
  try {
    return new Blob([JSON.stringify(input) ?? ""]).size;
  } catch {
    return 0;
  }
}

/** The refusal for an input too large to send, said before sending it. */
export function tooLargeToSend(bytes: number): ActionError {
  const mb = (n: number) => (n / (1024 * 1024)).toFixed(1);
  return {
    code: "PAYLOAD_TOO_LARGE",
    message: `What you entered is too large to send (${mb(bytes)} MB; Latch takes at most 2 MB at once). Check for a field holding far more than it should, such as a pasted file: a certificate or CA bundle is at most 200 KB.`,
    reference: "",
  };
}
