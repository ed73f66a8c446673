import { NotFoundMessage } from "@/components/shared/not-found-message";

export const metadata = { title: "Not found" };

/** A console page that is absent or forbidden: inside the shell, whose <main> it fills. */
export default function ConsoleNotFound() {
  return <NotFoundMessage />;
}
