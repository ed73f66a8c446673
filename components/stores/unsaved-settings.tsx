"use client";

import { createContext, useContext, useEffect, useState, type ReactNode } from "react";

type UnsavedSettings = { unsaved: boolean; setUnsaved: (unsaved: boolean) => void };

const Context = createContext<UnsavedSettings | null>(null);

/**
 * Shared by a store's settings form and the actions beside it on the store page that change the
 * stored settings themselves (Generate key pair): those start the form afresh, so they ask first
 * while the form holds changes not yet saved.
 */
export function UnsavedSettingsProvider({ children }: { children: ReactNode }) {
  const [unsaved, setUnsaved] = useState(false);
  return <Context.Provider value={{ unsaved, setUnsaved }}>{children}</Context.Provider>;
}

/** The form reports whether it differs from what was loaded (nothing happens outside a provider). */
export function useReportUnsavedSettings(unsaved: boolean) {
  const setUnsaved = useContext(Context)?.setUnsaved;
  useEffect(() => {
    if (!setUnsaved) return;
    setUnsaved(unsaved);
    // A form replaced by a fresh one (saved settings) or gone holds nothing unsaved.
    return () => setUnsaved(false);
  }, [setUnsaved, unsaved]);
}

/** Whether the store's settings form holds changes not yet saved. */
export function useUnsavedSettings() {
  return useContext(Context)?.unsaved ?? false;
}
