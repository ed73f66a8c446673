import { notFound } from "next/navigation";

export const metadata = { title: "Not found" };

/**
 * An address no page serves. Answered here rather than by app/not-found.tsx so that someone signed in
 * keeps the console's navigation around the message; the layout sends anyone else to sign in first.
 */
export default function MissingPage(): never {
  notFound();
}
