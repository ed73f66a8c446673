/** Password rules the browser checks too (no Node built-ins here, unlike ./password). */
export const PASSWORD_MIN_LENGTH = 12;
