import { toast } from "sonner";

/**
 * Puts a value shown once (a token, a generated password) on the clipboard and says so; when the
 * browser refuses (no permission, not a secure context), says to copy it by hand. Resolves to whether
 * it was copied.
 */
export async function copyText(value: string, what: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(value);
    toast.success(`${what} copied.`);
    return true;
  } catch {
    toast.error(`Could not copy. Select the ${what.toLowerCase()} and copy it yourself.`);
    return false;
  }
}
