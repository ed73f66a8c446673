"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { FormField } from "@/components/shared/form-field";
import { useServerAction } from "@/components/shared/use-server-action";
import { changeOwnPasswordAction } from "@/lib/users/actions";
import { useHydrated } from "@/components/shared/use-hydrated";

export function ChangePasswordForm() {
  const hydrated = useHydrated();
  const [form, setForm] = useState({ currentPassword: "", newPassword: "" });
  const change = useServerAction(changeOwnPasswordAction, { success: "Password changed.", refresh: false });
  return (
    <form
      noValidate
      className="grid max-w-md gap-5"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await change.run(form)) setForm({ currentPassword: "", newPassword: "" });
      }}
    >
      <FormField label="Current password" id="current-password" error={change.fieldError("currentPassword")} required>
        <Input type="password" autoComplete="current-password" value={form.currentPassword} onChange={(e) => setForm({ ...form, currentPassword: e.target.value })} />
      </FormField>
      <FormField label="New password" id="new-password" error={change.fieldError("newPassword")} description="At least 12 characters." required>
        <Input type="password" autoComplete="new-password" value={form.newPassword} onChange={(e) => setForm({ ...form, newPassword: e.target.value })} />
      </FormField>
      <div>
        <Button type="submit" disabled={change.pending || !hydrated}>
          {change.pending ? "Saving…" : "Change password"}
        </Button>
      </div>
    </form>
  );
}
