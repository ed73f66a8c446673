"use client";

import * as React from "react";
import { toast } from "sonner";
import { Dialog, DialogContent, DialogDescription, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { LoginForm } from "./login-form";

/**
 * When a form is sent after the session has ended (it expired, or the person signed out in another
 * tab), the console asks them to sign in again here, over the page, instead of leaving it: whatever
 * they entered stays in the form, and they send it again once signed in. Outside the console shell
 * (no provider) the caller falls back to the sign-in page.
 */
const SessionEndedContext = React.createContext<(() => void) | null>(null);

export function SessionEndedProvider({ email, children }: { email: string; children: React.ReactNode }) {
  const [open, setOpen] = React.useState(false);
  const ask = React.useCallback(() => setOpen(true), []);
  return (
    <SessionEndedContext.Provider value={ask}>
      {children}
      <Dialog open={open} onOpenChange={setOpen}>
        <DialogContent
          className="sm:max-w-md"
          onOpenAutoFocus={(event) => {
            // The password (the address is given). Not by autoFocus: a dialog the form was sent from
            // takes focus back first, and Radix would then pick the first field, the fixed address.
            event.preventDefault();
            (event.currentTarget as HTMLElement | null)?.querySelector<HTMLInputElement>('input[name="password"]')?.focus();
          }}
        >
          <DialogHeader>
            <DialogTitle>Your session has ended</DialogTitle>
            <DialogDescription>Sign in again to go on. What you entered on this page is kept: send it again once you are signed in.</DialogDescription>
          </DialogHeader>
          <LoginForm
            email={email}
            onSignedIn={() => {
              setOpen(false);
              toast.success("Signed in again. Nothing was saved while you were signed out: send your change again.");
            }}
          />
        </DialogContent>
      </Dialog>
    </SessionEndedContext.Provider>
  );
}

/** Opens the sign-in dialog, or null outside the console shell. */
export function useSessionEnded(): (() => void) | null {
  return React.useContext(SessionEndedContext);
}
