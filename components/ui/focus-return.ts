"use client";

import { createElement, useRef, useState } from "react";

/**
 * Where focus goes when a dialog opened from a menu closes. Radix hands focus back to whatever was
 * focused when the dialog opened; for a dialog opened from a menu item that is the item, gone with
 * its menu, so focus falls to the page and the next Tab starts at "Skip to content". Menu triggers
 * (dropdown-menu.tsx) note themselves when they open a menu; a dialog (dialog.tsx,
 * alert-dialog.tsx) that opens from inside a menu remembers that trigger, and if focus is lost
 * when it closes, gives it back there. A dialog opened without a Radix trigger (a button that sets
 * its open state) has nothing for Radix to return to either: it gives focus back to whatever had it
 * when the dialog opened.
 * An action that removes the control focus went back to (a row's button) asks moveFocusWhenRemoved
 * (below) to move it on from there.
 */
let menuOpener: HTMLElement | null = null;

export function noteMenuOpener(element: HTMLElement): void {
  menuOpener = element;
}

/**
 * Notes what had focus as a dialog's content mounts: rendered as its first child, it runs before
 * the content is committed, so before a field with autoFocus takes focus (Radix then skips its own
 * open handler, which would come too late anyway).
 */
function OpenerNote({ note }: { note: (element: Element | null) => void }) {
  useState(() => note(typeof document === "undefined" ? null : document.activeElement));
  return null;
}

/**
 * A dialog content's onCloseAutoFocus, wrapping the caller's own, and an element to render first
 * inside the content (`openerNote`): it notes what had focus when the dialog opened (for a menu
 * item, the menu's trigger); at close, if focus fell to the page, it is given back there.
 */
export function useMenuFocusReturn(own: { onCloseAutoFocus?: (event: Event) => void }) {
  const returnTo = useRef<HTMLElement | null>(null);
  const note = (from: Element | null) => {
    const opener = from instanceof HTMLElement && from !== document.body ? from : null;
    returnTo.current = opener?.closest('[role="menu"]') ? menuOpener : opener;
  };
  return {
    openerNote: createElement(OpenerNote, { note }),
    onCloseAutoFocus(event: Event) {
      own.onCloseAutoFocus?.(event);
      const target = returnTo.current;
      returnTo.current = null;
      // The dialog's own handler places focus itself.
      if (!target || event.defaultPrevented) return;
      // After Radix has moved focus: only if it fell to the page.
      setTimeout(() => {
        const active = document.activeElement;
        if ((!active || active === document.body) && target.isConnected) target.focus();
      }, 0);
    },
  };
}

const FOCUSABLE = 'a[href], button:not(:disabled), input:not(:disabled):not([type="hidden"]), select:not(:disabled), textarea:not(:disabled), [tabindex]:not([tabindex="-1"])';

/**
 * For an action that removes the control it was started from: a row's Revoke or Actions button,
 * gone with its row (or from it) once the page refreshes, after the dialog has handed focus back to
 * it. Call it with that control once the action has succeeded, before refreshing. When the control
 * goes and focus falls to the page, focus moves to the control in the same column of the next row
 * (else of an earlier one), else to the heading of the section or card around it (made focusable
 * with tabIndex=-1). If the person has moved focus elsewhere meanwhile, it is left there.
 */
export function moveFocusWhenRemoved(control: HTMLElement | null, waitMs = 10_000): void {
  if (!control?.isConnected) return;
  // Worked out now: once the control is gone, so is the way from it to its row and section.
  const places = [...sameColumnInOtherRows(control), ...headingsAround(control)];
  const until = Date.now() + waitMs;
  const check = () => {
    const waiting = Date.now() < until;
    if (control.isConnected) {
      if (waiting) setTimeout(check, 50);
      return;
    }
    const active = document.activeElement;
    if (active && active !== document.body) {
      // Still in the dialog, which is closing: wait for it to hand focus back (to the control, now gone).
      if (waiting && active.closest('[role="dialog"], [role="alertdialog"]')) setTimeout(check, 50);
      return;
    }
    for (const place of places) {
      const target = place();
      if (!target) continue;
      if (!target.matches(FOCUSABLE) && !target.hasAttribute("tabindex")) target.tabIndex = -1;
      target.focus();
      return;
    }
  };
  setTimeout(check, 0);
}

/** The control in the control's column of its own row (if it has another), then of the next rows, then of the earlier ones. */
function sameColumnInOtherRows(control: HTMLElement): (() => HTMLElement | null)[] {
  const cell = control.closest("td, th, [role='cell'], [role='gridcell']");
  const row = cell?.parentElement;
  if (!cell || !row?.parentElement) return [];
  const column = Array.prototype.indexOf.call(row.children, cell);
  const rows = Array.from(row.parentElement.children);
  const at = rows.indexOf(row);
  const order = [row, ...rows.slice(at + 1), ...rows.slice(0, at).reverse()];
  return order.map((r) => () => {
    if (!r.isConnected) return null;
    const found = Array.from(r.children[column]?.querySelectorAll<HTMLElement>(FOCUSABLE) ?? []).find(shown);
    return found ?? null;
  });
}

/** The headings of the sections and cards around the control, nearest first. */
function headingsAround(control: HTMLElement): (() => HTMLElement | null)[] {
  const headings: HTMLElement[] = [];
  for (let el = control.parentElement; el && el !== document.body; el = el.parentElement) {
    const labelledBy = el.getAttribute("aria-labelledby");
    const heading =
      (labelledBy ? document.getElementById(labelledBy.split(/\s+/)[0]!) : null) ??
      (el.matches('[data-slot="card"]') ? cardTitle(el) : null) ??
      (el.matches("main") ? el.querySelector<HTMLElement>("h1") : null);
    if (heading) headings.push(heading);
  }
  return headings.map((heading) => () => (heading.isConnected && shown(heading) ? heading : null));
}

function cardTitle(card: Element): HTMLElement | null {
  const title = card.querySelector<HTMLElement>(':scope > [data-slot="card-header"] [data-slot="card-title"]');
  return title?.querySelector<HTMLElement>("h1, h2, h3, h4, h5, h6") ?? title ?? null;
}

const shown = (el: HTMLElement) => el.getClientRects().length > 0;
