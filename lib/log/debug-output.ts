/**
 * The start-up warning when libraries' own debug output is on (the debug package's DEBUG, Node's
 * NODE_DEBUG), or null. That output goes straight to stderr, past Latch's redaction: ioredis prints
 * its AUTH command with the password, undici whole URLs with any key in their query.
 */
export function debugOutputWarning(settings: { DEBUG?: string; NODE_DEBUG?: string }): string | null {
  const on = (["DEBUG", "NODE_DEBUG"] as const).filter((name) => settings[name]?.trim());
  if (on.length === 0) return null;
  return `${on.join(" and ")} ${on.length > 1 ? "are" : "is"} set: libraries then write their own debug output straight to stderr, past Latch's redaction, and it can include credentials (ioredis prints its AUTH command, undici whole URLs). Unset ${on.length > 1 ? "them" : "it"} once done troubleshooting.`;
}
