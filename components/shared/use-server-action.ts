"use client";

import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { toast } from "sonner";
import type { ActionError, ActionResult } from "@/lib/actions/action";

class ActionFailure extends Error {
  constructor(readonly error: ActionError) {
    super(error.message);
  }
}

type Options<T> = {
  /** Toast shown on success; omit for none. */
  success?: string | ((data: T) => string);
  onSuccess?: (data: T) => void;
  /** Re-render server components after success (default true). */
  refresh?: boolean;
};

/**
 * Runs a server action through TanStack Query: pending state, field errors for the form, a toast for
 * errors that belong to no field, and a router refresh so server-rendered lists show the change.
 */
export function useServerAction<I, T>(action: (input: I) => Promise<ActionResult<T>>, options: Options<T> = {}) {
  const router = useRouter();
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const [formError, setFormError] = useState<string | null>(null);

  const mutation = useMutation({
    mutationFn: async (input: I) => {
      const result = await action(input);
      if (!result.ok) throw new ActionFailure(result.error);
      return result.data;
    },
    onMutate: () => {
      setFieldErrors({});
      setFormError(null);
    },
    onSuccess: (data) => {
      if (options.success) toast.success(typeof options.success === "function" ? options.success(data) : options.success);
      options.onSuccess?.(data);
      if (options.refresh !== false) router.refresh();
    },
    onError: (error) => {
      if (error instanceof ActionFailure) {
        const fields = error.error.fieldErrors ?? {};
        setFieldErrors(fields);
        const hasFieldError = Object.keys(fields).some((k) => k !== "_form");
        setFormError(hasFieldError ? null : error.error.message);
        if (!hasFieldError) toast.error(error.error.message);
        if (error.error.code === "UNAUTHENTICATED") router.push("/login");
      } else {
        const message = "Could not reach Latch. Check your connection and try again.";
        setFormError(message);
        toast.error(message);
      }
    },
  });

  return {
    /** Resolves to true on success, false on failure (errors are already shown). */
    run: async (input: I) => {
      try {
        await mutation.mutateAsync(input);
        return true;
      } catch {
        return false;
      }
    },
    pending: mutation.isPending,
    fieldError: (name: string) => fieldErrors[name]?.[0] ?? null,
    formError,
    reset: () => {
      setFieldErrors({});
      setFormError(null);
    },
  };
}
