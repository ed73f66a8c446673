"use client";

import { useEffect, useRef, useState } from "react";
import { useSettingsSyncState } from "@/components/stores/settings-sync";
import { StoreForm, type StoreFormProps } from "@/components/stores/store-form";
import { Button } from "@/components/ui/button";

/**
 * The store's settings form, started afresh from the stored settings when they change (a save of its
 * own, a new key pair), but not under changes typed and not yet saved: when someone else saved the
 * store meanwhile and this page re-renders (after a test or a refresh here), the form keeps what was
 * typed, still for the version it was loaded from (so saving it is refused, not an overwrite), and
 * says so, with a way to load the saved settings instead.
 */
export function StoreSettingsForm(props: StoreFormProps & { existing: NonNullable<StoreFormProps["existing"]> }) {
  const sync = useSettingsSyncState();
  const latest = props.existing.settingsVersion;
  const [version, setVersion] = useState(latest);
  // A newer version held back from the form, once it came while changes were unsaved.
  const [heldBack, setHeldBack] = useState<number | null>(null);
  // Discard changes: a new form instance from the saved settings, then focus on its first field.
  const [discards, setDiscards] = useState(0);
  useEffect(() => {
    if (discards > 0) document.querySelector<HTMLElement>("#store-settings :is(input, textarea, button[role=combobox]):not([disabled])")?.focus();
  }, [discards]);
  const changedElsewhere = latest !== version;
  // Decided when the version arrives: a save or a new key pair of this page's own is running then; another's is not.
  const keep = changedElsewhere && (heldBack === latest || (!!sync && sync.form.unsaved && !sync.form.saving && !sync.generating));
  if (keep && heldBack !== latest) setHeldBack(latest);
  if (changedElsewhere && !keep) setVersion(latest);
  // The page's props as of the version shown: what a kept form goes on with (its expectedVersion too).
  const held = useRef(props);
  if (!changedElsewhere) held.current = props;
  return (
    <div id="store-settings" className="grid gap-4">
      {keep ? (
        <div role="status" className="flex flex-wrap items-center justify-between gap-3 rounded-lg border border-warning/40 bg-warning/10 px-4 py-3 text-sm">
          <p>Someone else saved this store’s settings while you were editing them. Your changes are kept below, but saving them is refused.</p>
          <Button
            type="button"
            variant="outline"
            size="sm"
            onClick={() => {
              setVersion(latest);
              setHeldBack(null);
            }}
          >
            Load the saved settings
          </Button>
        </div>
      ) : null}
      <StoreForm
        key={`${version}.${discards}`}
        {...(keep ? held.current : props)}
        onDiscard={() => {
          // Discarding a kept form's changes goes to the saved settings, as "Load the saved settings" does.
          setVersion(latest);
          setHeldBack(null);
          setDiscards((n) => n + 1);
        }}
      />
    </div>
  );
}
