"use client";

import * as React from "react";

/** Wiring a labelled field hands to the single control inside it. */
export type FieldControlProps = {
  id?: string;
  "aria-invalid"?: React.AriaAttributes["aria-invalid"];
  "aria-describedby"?: string;
  "aria-required"?: React.AriaAttributes["aria-required"];
};

/** The wiring, and `edited`: what a control whose value changes without an input event (a Generate button) calls, so the field's error goes. */
export const FieldContext = React.createContext<(FieldControlProps & { edited?: () => void }) | null>(null);

/** Tells the enclosing field its value was changed by other means than typing; a no-op outside one. */
export function useFieldEdited(): () => void {
  return React.useContext(FieldContext)?.edited ?? noop;
}
const noop = () => {};

/**
 * Fills `id`, `aria-invalid`, `aria-describedby` and `aria-required` from an enclosing field (see FieldContext)
 * where the control's own props leave them unset. Explicit props always win.
 */
export function useFieldControlProps<P extends FieldControlProps>(props: P): P {
  const field = React.useContext(FieldContext);
  if (!field) return props;
  return {
    ...props,
    id: props.id ?? field.id,
    "aria-invalid": props["aria-invalid"] ?? field["aria-invalid"],
    "aria-describedby": props["aria-describedby"] ?? field["aria-describedby"],
    // A control that sets `required` itself is announced as required already.
    "aria-required": props["aria-required"] ?? ((props as { required?: boolean }).required ? undefined : field["aria-required"]),
  };
}
