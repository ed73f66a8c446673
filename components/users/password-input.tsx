"use client";

import { CopyIcon, RefreshCwIcon } from "lucide-react";
import { copyText } from "@/components/shared/copy-text";
import { Button } from "@/components/ui/button";
import { useFieldEdited } from "@/components/ui/field";
import { Input } from "@/components/ui/input";

const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

function generate(length = 20): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
  let out = "";
  for (const b of bytes) if (out.length < length && b < 256 - (256 % ALPHABET.length)) out += ALPHABET[b % ALPHABET.length];
  return out.length === length ? out : generate(length);
}

/** A new-password field with a generator, so admins hand out strong initial passwords. */
export function NewPasswordInput({
  value,
  onChange,
  id,
  ...rest
}: { value: string; onChange: (v: string) => void; id?: string } & Omit<React.ComponentProps<"input">, "value" | "onChange">) {
  const edited = useFieldEdited();
  return (
    <div className="flex flex-wrap gap-2">
      <Input
        id={id}
        type="text"
        autoComplete="new-password"
        spellCheck={false}
        className="min-w-48 flex-1 font-mono"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        {...rest}
      />
      <Button
        type="button"
        variant="outline"
        onClick={() => {
          onChange(generate());
          // No input event for the field to see: its "at least 12 characters" no longer applies.
          edited();
        }}
      >
        <RefreshCwIcon aria-hidden="true" /> Generate
      </Button>
      {/* The password is handed on by whoever sets it: copy it before the dialog closes and it is gone. */}
      <Button type="button" variant="outline" disabled={!value} onClick={() => void copyText(value, "Password")}>
        <CopyIcon aria-hidden="true" /> Copy
      </Button>
    </div>
  );
}
