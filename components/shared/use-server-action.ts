"use client";

import { useMutation } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useEffect, useLayoutEffect, useRef, useState, useTransition } from "react";
import { toast } from "sonner";
import { useSessionEnded } from "@/components/auth/session-ended";
import type { ActionError, ActionResult } from "@/lib/actions/action";
import { ACTION_BODY_LIMIT_BYTES, approximateBytes, tooLargeToSend } from "./action-size";
import { formLevelMessage } from "./form-errors";

class ActionFailure extends Error {
  constructor(readonly error: ActionError) {
    super(error.message);
  }
}

function showSuccess<T>(success: NonNullable<Options<T>["success"]>, data: T) {
  const said = typeof success === "function" ? success(data) : success;
  if (typeof said === "string") toast.success(said);
  else toast.warning(said.warning);
}

type Options<T> = {
  /** Toast shown on success; omit for none. `{ warning }`: done, but not as hoped (saved, yet its test failed). */
  success?: string | ((data: T) => string | { warning: string });
  onSuccess?: (data: T) => void;
  /** Toast for a success that arrives after the person left the form (onSuccess is not called then); `success` is used when omitted. */
  afterLeaving?: (data: T) => string | null;
  /** Re-render server components after success, and after a conflict (default true). */
  refresh?: boolean;
  /**
   * Stay pending, and leave `run` unresolved, until that re-render has landed (REFRESH_WAIT_MS at
   * most). For a dialog that closes on success and opens again with what the page says (an edit
   * dialog would otherwise offer the old values, and saving them would undo the change), and a
   * button whose page says whether it still applies (a second press must not skip its question).
   */
  awaitRefresh?: boolean;
};

export const UNREACHABLE = "Could not reach Latch. Check your connection and try again.";

/** How long an action stays pending for the page refresh after its answer (see `awaitRefresh`), at most. */
const REFRESH_WAIT_MS = 10_000;

/** The session has ended: to the sign-in page, and back to this page afterwards. */
const signInAgain = (router: ReturnType<typeof useRouter>) => router.push(`/login?callbackUrl=${encodeURIComponent(window.location.pathname + window.location.search)}`);

// The form being submitted, noted before React's handlers run (capture phase on the document): the
// focused element cannot say, since Safari does not focus a clicked button.
let submitting: { form: HTMLFormElement; at: number } | null = null;
if (typeof document !== "undefined") {
  document.addEventListener("submit", (event) => {
    if (event.target instanceof HTMLFormElement) submitting = { form: event.target, at: performance.now() };
  }, true);
}

/** The form an attempt started now came from: the one just submitted, else the focused element's. */
function attemptOrigin(): Element | null {
  if (typeof document === "undefined") return null;
  if (submitting && performance.now() - submitting.at < 1000) return submitting.form;
  return document.activeElement;
}

/**
 * Runs a server action through TanStack Query: pending state, field errors for the form, a form-level
 * message (and a toast) for errors no rendered field shows, and a router refresh so server-rendered
 * lists show the change.
 *
 * A field is rendered when the form asks for its error (`fieldError(name)`) while rendering; an error
 * for any other field (hidden, or one the form never shows) becomes `formError`, so none is invisible.
 */
export function useServerAction<I, T>(action: (input: I) => Promise<ActionResult<T>>, options: Options<T> = {}) {
  const router = useRouter();
  const askToSignIn = useSessionEnded();
  const [fieldErrors, setFieldErrors] = useState<Record<string, string[]>>({});
  const [failure, setFailure] = useState<ActionError | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const toasted = useRef<ActionError | null>(null);
  // Where the attempt came from, so its first invalid field can take focus once the errors show.
  const origin = useRef<Element | null>(null);
  const focusFirstInvalid = useRef(false);
  // The fields this render asks about; read after the commit, once the whole form has rendered.
  const shown = new Set<string>();
  // Whether the form is still on screen. A person may leave (Cancel, a link) while an action runs; the
  // server finishes it anyway, and TanStack still calls back. The toast says it was done, but the
  // form's own follow-up (open what was saved, go to an OAuth sign-in) must not pull them back.
  const mounted = useRef(true);
  // The refresh after an answer, and the runs waiting for it to land (see `awaitRefresh`).
  const [refreshing, startRefresh] = useTransition();
  // A refresh that hangs (a slow server) holds nothing for longer than this: the dialog can close.
  const [refreshOverdue, setRefreshOverdue] = useState(false);
  const awaitingRefresh = useRef<(() => void)[]>([]);
  const refreshLanded = () => {
    for (const resume of awaitingRefresh.current.splice(0)) resume();
  };
  useEffect(() => {
    if (!refreshing) {
      setRefreshOverdue(false);
      return refreshLanded();
    }
    const overdue = setTimeout(() => {
      setRefreshOverdue(true);
      refreshLanded();
    }, REFRESH_WAIT_MS);
    return () => clearTimeout(overdue);
  }, [refreshing]);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      // Nothing will render here again: whoever waits on the refresh goes on.
      refreshLanded();
    };
  }, []);
  // Set when this answer started a refresh; `run` then waits for it.
  const refreshStarted = useRef<Promise<void> | null>(null);
  const refreshPage = () => {
    // Nothing renders here any more to say the refresh landed.
    if (!mounted.current || !options.awaitRefresh) return void router.refresh();
    refreshStarted.current = new Promise<void>((resume) => awaitingRefresh.current.push(resume));
    startRefresh(() => router.refresh());
  };

  // After every render, on purpose: the focus waits until a disabled fieldset is editable again, and
  // setting the same message again renders nothing.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useLayoutEffect(() => {
    if (!failure) return;
    if (focusFirstInvalid.current) {
      const control = firstInvalidControl(origin.current);
      // A form read-only while its action ran (a disabled fieldset) takes focus once it is editable again.
      if (!control?.closest("fieldset:disabled")) {
        focusFirstInvalid.current = false;
        control?.focus();
      }
    }
    const message = formLevelMessage(failure, shown);
    setFormError(message);
    if (message && toasted.current !== failure) {
      toasted.current = failure;
      toast.error(message);
    }
  });

  // Runs not yet settled: the mutation's record is dropped once none is left (see `run`).
  const inFlight = useRef(0);
  const mutation = useMutation({
    // What was sent (a password typed) and what came back (a token shown once) are not kept in the
    // browser's mutation cache after the run: only the form holds them, for as long as it shows them.
    gcTime: 0,
    mutationFn: async (input: I) => {
      const bytes = approximateBytes(input);
      if (bytes > ACTION_BODY_LIMIT_BYTES) throw new ActionFailure(tooLargeToSend(bytes));
      const result = await action(input);
      if (!result.ok) throw new ActionFailure(result.error);
      return result.data;
    },
    onMutate: () => {
      setFieldErrors({});
      setFailure(null);
      setFormError(null);
    },
    onSuccess: (data) => {
      if (!mounted.current) {
        const note = options.afterLeaving?.(data);
        if (note) toast.success(note);
        else if (options.success && !options.afterLeaving) showSuccess(options.success, data);
        return void router.refresh();
      }
      if (options.success) showSuccess(options.success, data);
      options.onSuccess?.(data);
      if (options.refresh !== false) refreshPage();
    },
    onError: (error) => {
      if (error instanceof ActionFailure) {
        // Signed in again over the page (the dialog says why), so nothing typed is lost; no error is
        // left on the form to go stale once they are back.
        if (error.error.code === "UNAUTHENTICATED" && askToSignIn) return askToSignIn();
        // Which of these the form shows by a field is known once it has rendered them (see above).
        setFieldErrors(error.error.fieldErrors ?? {});
        setFailure(error.error);
        focusFirstInvalid.current = Object.keys(error.error.fieldErrors ?? {}).length > 0;
        // Outside the console shell: to the sign-in page, and back here afterwards.
        if (error.error.code === "UNAUTHENTICATED") signInAgain(router);
        // A conflict means the state changed under the person (an edit elsewhere): show it as it is now.
        else if (error.error.code === "CONFLICT" && options.refresh !== false) refreshPage();
      } else {
        setFormError(UNREACHABLE);
        toast.error(UNREACHABLE);
      }
    },
  });

  return {
    /** Resolves to true on success, false on failure (errors are already shown). */
    run: async (input: I) => {
      origin.current = attemptOrigin();
      refreshStarted.current = null;
      inFlight.current++;
      try {
        await mutation.mutateAsync(input);
        return true;
      } catch {
        return false;
      } finally {
        // Its callbacks have run: the observer lets go of the mutation, which gcTime 0 then removes.
        if (--inFlight.current === 0) mutation.reset();
        // Set by the mutation's callbacks while it ran; TypeScript still narrows it to the null above.
        // eslint-disable-next-line @typescript-eslint/await-thenable
        await refreshStarted.current;
      }
    },
    pending: mutation.isPending || (refreshing && !refreshOverdue),
    /**
     * The error to show by this field; asking also tells the hook the form shows this field. Ask for
     * every field rendered, even one whose place another message takes (no `a ?? fieldError(b)`).
     */
    fieldError: (name: string) => {
      shown.add(name);
      return fieldErrors[name]?.[0] ?? null;
    },
    /** An error no rendered field shows: show it above or below the form. */
    formError,
    reset: () => {
      setFieldErrors({});
      setFailure(null);
      setFormError(null);
    },
    /**
     * Forgets the errors of these fields: the person changed what they were about (a field is now
     * filled from elsewhere, or hidden), so they must neither stay by it nor move above the form.
     */
    clearErrors: (names: string[]) => {
      const without = (errors: Record<string, string[]>) => Object.fromEntries(Object.entries(errors).filter(([k]) => !names.includes(k)));
      if (names.some((n) => n in fieldErrors)) setFieldErrors(without(fieldErrors));
      if (failure?.fieldErrors && names.some((n) => n in failure.fieldErrors!)) {
        const rest = without(failure.fieldErrors);
        if (Object.keys(rest).length > 0) setFailure({ ...failure, fieldErrors: rest });
        else {
          // Nothing of it is left to show.
          setFailure(null);
          setFormError(null);
        }
      }
    },
  };
}

/**
 * The first control marked invalid in the form (or dialog) the attempt was made from, in document
 * order; nothing when that is not known, rather than a field of some other form.
 */
function firstInvalidControl(origin: Element | null): HTMLElement | null {
  const scope = origin?.isConnected ? origin.closest("form, [role=dialog], [role=alertdialog]") : null;
  // data-invalid-control: a button standing for a value (an asset chip's "Change"), where aria-invalid is not allowed.
  const control = scope?.querySelector('[aria-invalid="true"], [data-invalid-control]');
  return control instanceof HTMLElement ? control : null;
}

/**
 * For an action run from a confirmation dialog (ConfirmDialog shows a thrown error's message inside
 * it): the action's data, or an Error with what to show. It goes the way forms do where the answer
 * calls for it: back to the sign-in page when the session has ended (and here afterwards), the page
 * re-read on a conflict, and a plain "could not reach Latch" for a network failure.
 */
export function useSettleAction() {
  const router = useRouter();
  return async function settle<T>(call: () => Promise<ActionResult<T>>): Promise<T> {
    let result: ActionResult<T>;
    try {
      result = await call();
    } catch {
      throw new Error(UNREACHABLE);
    }
    if (result.ok) return result.data;
    if (result.error.code === "UNAUTHENTICATED") signInAgain(router);
    else if (result.error.code === "CONFLICT") router.refresh();
    throw new Error(result.error.message);
  };
}
