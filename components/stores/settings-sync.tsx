"use client";

import { createContext, useContext, useEffect, useState, type ReactNode } from "react";

type Sync = {
  form: { unsaved: boolean; saving: boolean };
  setForm: (form: { unsaved: boolean; saving: boolean }) => void;
  generating: boolean;
  setGenerating: (generating: boolean) => void;
};

const Context = createContext<Sync | null>(null);

/**
 * Shared by a store's settings form and the action beside it on the store page that changes the
 * stored settings itself (Generate key pair), which starts the form afresh from them: the action asks
 * first while the form holds changes not yet saved, and waits while the form saves; the form is
 * read-only while the action runs.
 */
export function StoreSettingsSync({ children }: { children: ReactNode }) {
  const [form, setForm] = useState({ unsaved: false, saving: false });
  const [generating, setGenerating] = useState(false);
  return <Context.Provider value={{ form, setForm, generating, setGenerating }}>{children}</Context.Provider>;
}

/** What the settings form reported, and whether a new key pair is being made (null outside a provider). */
export function useSettingsSyncState(): { form: { unsaved: boolean; saving: boolean }; generating: boolean } | null {
  const sync = useContext(Context);
  return sync ? { form: sync.form, generating: sync.generating } : null;
}

/** For the settings form: reports its state, and learns whether the settings are being replaced (nothing outside a provider). */
export function useSettingsFormSync(unsaved: boolean, saving: boolean): { replacing: boolean } {
  const sync = useContext(Context);
  const setForm = sync?.setForm;
  useEffect(() => {
    if (!setForm) return;
    setForm({ unsaved, saving });
    // A form replaced by a fresh one (saved settings) or gone holds nothing unsaved.
    return () => setForm({ unsaved: false, saving: false });
  }, [setForm, unsaved, saving]);
  return { replacing: sync?.generating ?? false };
}

/** For an action that replaces the stored settings: reports when it runs, and learns the form's state. */
export function useSettingsActionSync(running: boolean): { unsaved: boolean; saving: boolean } {
  const sync = useContext(Context);
  const setGenerating = sync?.setGenerating;
  useEffect(() => {
    if (!setGenerating) return;
    setGenerating(running);
    return () => setGenerating(false);
  }, [setGenerating, running]);
  return sync?.form ?? { unsaved: false, saving: false };
}
