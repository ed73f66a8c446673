"use client";

import { useRouter } from "next/navigation";
import { useRef } from "react";
import { toast } from "sonner";
import { useSettleAction } from "@/components/shared/use-server-action";
import { Button } from "@/components/ui/button";
import { moveFocusWhenRemoved } from "@/components/ui/focus-return";
import { ConfirmDialog } from "@/components/shared/confirm-dialog";
import { revokeTokenAction } from "@/lib/tokens/actions";

export function RevokeTokenButton({ token }: { token: { id: string; name: string; prefix: string } }) {
  const router = useRouter();
  const settle = useSettleAction();
  const trigger = useRef<HTMLButtonElement>(null);
  return (
    <ConfirmDialog
      trigger={
        <Button ref={trigger} variant="outline" size="sm" aria-label={`Revoke token ${token.name} (${token.prefix})`}>
          Revoke
        </Button>
      }
      title={`Revoke “${token.name}”?`}
      description="Requests with this token are refused from now on. This cannot be undone; create a new token if it is needed again."
      confirmLabel="Revoke token"
      pendingLabel="Revoking…"
      destructive
      onConfirm={async () => {
        await settle(() => revokeTokenAction({ tokenId: token.id }));
        toast.success(`Token “${token.name}” revoked.`);
        // A revoked token has no Revoke button: the refresh takes away the one focus returns to.
        moveFocusWhenRemoved(trigger.current);
        router.refresh();
      }}
    />
  );
}
