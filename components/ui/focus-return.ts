"use client";

/**
 * Where focus goes when a dialog opened from a menu closes. Radix hands focus back to whatever
 * was focused when the dialog opened, and for a dialog opened from a menu item that is the item,
 * gone with its menu: focus falls to the page and the next Tab starts at "Skip to content". Menu
 * triggers (components/ui/dropdown-menu.tsx) note themselves when they open a menu; a dialog
 * (dialog.tsx, alert-dialog.tsx) that closes with focus lost gives it to that trigger.
 */
let menuOpener: HTMLElement | null = null;

export function noteMenuOpener(element: HTMLElement): void {
  menuOpener = element;
}

/** After a dialog's close: once Radix has moved focus, take it back from the page if it fell there. */
export function returnFocusIfLost(): void {
  setTimeout(() => {
    const active = document.activeElement;
    if (active && active !== document.body) return;
    if (menuOpener?.isConnected) menuOpener.focus();
  }, 0);
}
