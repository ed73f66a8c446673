export function logLine(level: "info" | "warn" | "error" | "fatal", msg: string): void;
