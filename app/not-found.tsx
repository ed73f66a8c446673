import { NotFoundMessage } from "@/components/shared/not-found-message";

export const metadata = { title: "Not found" };

/** An address no route matches: no console shell here, so this page is its own main region. */
export default function NotFound() {
  return (
    <main id="main">
      <NotFoundMessage />
    </main>
  );
}
