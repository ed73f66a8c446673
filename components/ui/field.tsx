"use client";

import * as React from "react";

/** Wiring a labelled field hands to the single control inside it. */
export type FieldControlProps = {
  id?: string;
  "aria-invalid"?: React.AriaAttributes["aria-invalid"];
  "aria-describedby"?: string;
};

export const FieldContext = React.createContext<FieldControlProps | null>(null);

/**
 * Fills `id`, `aria-invalid` and `aria-describedby` from an enclosing field (see FieldContext)
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
  };
}
