/**
 * Where to go after signing in: a path on this site, or the folders page. An open redirect after
 * sign-in is a phishing aid ("sign in on the real Latch, land on ours"), so the value is parsed the
 * way a browser will parse it, not matched by prefix: browsers drop tabs and line breaks anywhere in
 * a URL, so "/\t/evil.example" becomes "//evil.example", and read "\" as "/".
 */
export const DEFAULT_AFTER_SIGN_IN = "/folders";

const BASE = "http://latch.invalid";

export function safeCallbackPath(raw: string | string[] | undefined): string {
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value || !value.startsWith("/") || /[\u0000-\u001f\u007f\\]/.test(value)) return DEFAULT_AFTER_SIGN_IN;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return DEFAULT_AFTER_SIGN_IN;
  }
  if (url.origin !== BASE || url.pathname.startsWith("//")) return DEFAULT_AFTER_SIGN_IN;
  return `${url.pathname}${url.search}${url.hash}`;
}
