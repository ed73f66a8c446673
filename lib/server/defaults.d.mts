export const DEFAULT_GRACE_SECONDS: number;
export const DEFAULT_KEEP_ALIVE_SECONDS: number;
