import { clsx, type ClassValue } from "clsx";
import { twMerge } from "tailwind-merge";

/** Merge class names; later Tailwind utilities win over earlier conflicting ones. */
export function cn(...inputs: ClassValue[]): string {
  return twMerge(clsx(inputs));
}

/** "a", "a and b", "a, b and c": a list of labels as a sentence would say it. */
export function joinList(labels: readonly string[]): string {
  return labels.length < 2 ? (labels[0] ?? "") : `${labels.slice(0, -1).join(", ")} and ${labels.at(-1)}`;
}

/** "1 MB", "4 MB": a byte limit as messages state it (MB = 2^20 bytes). */
export function megabytes(bytes: number): string {
  return `${bytes / (1024 * 1024)} MB`;
}

/** "the user" → "The user": a phrase made to run inside a sentence, starting one. */
export const capitalised = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
