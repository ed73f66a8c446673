"use client";

import { RefreshCwIcon } from "lucide-react";
import { Button } from "@/components/ui/button";
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
  return (
    <div className="flex gap-2">
      <Input
        id={id}
        type="text"
        autoComplete="new-password"
        spellCheck={false}
        className="font-mono"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        {...rest}
      />
      <Button type="button" variant="outline" onClick={() => onChange(generate())}>
        <RefreshCwIcon aria-hidden="true" /> Generate
      </Button>
    </div>
  );
}
