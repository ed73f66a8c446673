"use client";

import { useState } from "react";
import { flushSync } from "react-dom";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { FormAlert } from "@/components/shared/form-alert";
import { FormField } from "@/components/shared/form-field";
import { useServerAction } from "@/components/shared/use-server-action";
import { changeOwnPasswordAction } from "@/lib/users/actions";
import { useHydrated } from "@/components/shared/use-hydrated";
import { PASSWORD_MIN_LENGTH } from "@/lib/auth/password-rules";

const EMPTY = { currentPassword: "", newPassword: "", confirmPassword: "" };

export function ChangePasswordForm() {
  const hydrated = useHydrated();
  const [form, setForm] = useState(EMPTY);
  // A typo in a password nobody can see would lock its owner out: the new one is typed twice, checked here.
  const [mismatch, setMismatch] = useState<string | null>(null);
  // Said with the mismatch, so a short and mistyped password takes one attempt to put right, not two.
  const [tooShort, setTooShort] = useState<string | null>(null);
  // Any edit of either new password clears the mismatch, so the next failed attempt sets it anew and it shows again.
  const editNew = (key: "newPassword" | "confirmPassword", value: string) => {
    setForm({ ...form, [key]: value });
    setMismatch(null);
    setTooShort(null);
  };
  const change = useServerAction(changeOwnPasswordAction, { success: "Password changed. Your other sessions are signed out.", refresh: false });
  return (
    <form
      noValidate
      className="grid max-w-md gap-5"
      onSubmit={async (e) => {
        e.preventDefault();
        if (form.newPassword !== form.confirmPassword) {
          // A new attempt, settled here: what the server said of the last one is out of date. Cleared in
          // a render of its own, so that a message the same as before shows again (FormField).
          flushSync(() => {
            change.reset();
            setTooShort(null);
          });
          setMismatch(form.confirmPassword ? "The two new passwords do not match." : "Type the new password again.");
          const short = form.newPassword.length < PASSWORD_MIN_LENGTH;
          setTooShort(short ? `Use at least ${PASSWORD_MIN_LENGTH} characters.` : null);
          document.getElementById(short ? "new-password" : "confirm-password")?.focus();
          return;
        }
        if (!form.confirmPassword) {
          // Both new-password fields empty: this field says so itself, and the server names what else is missing.
          setMismatch("Type the new password again.");
          await change.run({ currentPassword: form.currentPassword, newPassword: form.newPassword });
          return;
        }
        setMismatch(null);
        if (await change.run({ currentPassword: form.currentPassword, newPassword: form.newPassword })) setForm(EMPTY);
      }}
    >
      <FormField label="Current password" id="current-password" error={change.fieldError("currentPassword")} required>
        <Input type="password" autoComplete="current-password" value={form.currentPassword} onChange={(e) => setForm({ ...form, currentPassword: e.target.value })} />
      </FormField>
      <FormField label="New password" id="new-password" error={change.fieldError("newPassword") ?? tooShort} description={`At least ${PASSWORD_MIN_LENGTH} characters.`} required>
        <Input type="password" autoComplete="new-password" value={form.newPassword} onChange={(e) => editNew("newPassword", e.target.value)} />
      </FormField>
      <FormField label="Confirm new password" id="confirm-password" error={mismatch} required>
        <Input type="password" autoComplete="new-password" value={form.confirmPassword} onChange={(e) => editNew("confirmPassword", e.target.value)} />
      </FormField>
      <FormAlert title="Could not change the password" message={change.formError} />
      <div className="flex justify-end">
        <Button type="submit" pending={change.pending} disabled={!hydrated}>
          {change.pending ? "Saving…" : "Change password"}
        </Button>
      </div>
    </form>
  );
}
