import type { Actor } from "@/lib/authz";
import { AppError } from "@/lib/errors";

/** Stand-in for lib/auth/session: whoever the test put in `session.current` is signed in. */
export const session = { current: null as Actor | null };

export const getCurrentUser = async () => session.current;
export const requireUser = async () => {
  if (!session.current) throw new Error("redirect:/login");
  return session.current;
};
export const requireActor = async () => {
  if (!session.current) throw new AppError("UNAUTHENTICATED", "Your session has ended. Sign in again.");
  return session.current;
};
