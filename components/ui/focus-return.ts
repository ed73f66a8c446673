"use client";

import { useRef } from "react";

/**
 * Where focus goes when a dialog opened from a menu closes. Radix hands focus back to whatever was
 * focused when the dialog opened; for a dialog opened from a menu item that is the item, gone with
 * its menu, so focus falls to the page and the next Tab starts at "Skip to content". Menu triggers
 * (dropdown-menu.tsx) note themselves when they open a menu; a dialog (dialog.tsx,
 * alert-dialog.tsx) that opens from inside a menu remembers that trigger, and if focus is lost
 * when it closes, gives it back there. Dialogs opened any other way are left to Radix.
 */
let menuOpener: HTMLElement | null = null;

export function noteMenuOpener(element: HTMLElement): void {
  menuOpener = element;
}

/**
 * A dialog content's onOpenAutoFocus and onCloseAutoFocus, wrapping the caller's own: at open it
 * notes whether it was opened from inside a menu; at close, if focus fell to the page, it gives it
 * back to that menu's trigger.
 */
export function useMenuFocusReturn(own: { onOpenAutoFocus?: (event: Event) => void; onCloseAutoFocus?: (event: Event) => void }) {
  const returnTo = useRef<HTMLElement | null>(null);
  return {
    onOpenAutoFocus(event: Event) {
      const from = document.activeElement;
      returnTo.current = from instanceof HTMLElement && from.closest('[role="menu"]') ? menuOpener : null;
      own.onOpenAutoFocus?.(event);
    },
    onCloseAutoFocus(event: Event) {
      own.onCloseAutoFocus?.(event);
      const target = returnTo.current;
      returnTo.current = null;
      if (!target) return;
      // After Radix has moved focus: only if it fell to the page.
      setTimeout(() => {
        const active = document.activeElement;
        if ((!active || active === document.body) && target.isConnected) target.focus();
      }, 0);
    },
  };
}
