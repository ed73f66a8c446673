// Vitest aliases `server-only` here: the real package throws outside a React Server environment.
export {};
