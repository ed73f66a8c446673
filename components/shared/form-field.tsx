"use client";

import * as React from "react";

import { cn } from "@/lib/utils";
import { Label } from "@/components/ui/label";
import { FieldContext, type FieldControlProps } from "@/components/ui/field";

export type FormFieldProps = {
  /** Visible label text; rendered as <label htmlFor={id}>. */
  label: React.ReactNode;
  /** The control's id. Also the prefix for `${id}-description` and `${id}-error`. */
  id: string;
  /** Error message; when set the control gets aria-invalid and the message is announced. */
  error?: string | null;
  description?: React.ReactNode;
  /** The asterisk, and aria-required on the control (so it is announced; the asterisk is hidden from assistive tech). */
  required?: boolean;
  className?: string;
  /** One control: Input, Textarea, <Select> (its SelectTrigger is wired), Checkbox, Switch... */
  children: React.ReactNode;
};

const nativeControls = new Set(["input", "textarea", "select", "button"]);

/**
 * Label + hint + control + error. The control receives `id`, `aria-invalid` and
 * `aria-describedby` (description and error ids) unless it sets them itself: the components/ui
 * controls (Input, Textarea, SelectTrigger, Checkbox, Switch) read them from context however deep
 * they sit, and a native <input>/<textarea>/<select> direct child is cloned with them. Any other
 * control must be given them by hand. Put exactly one control in a field.
 */
export function FormField({ label, id, error: given, description, required, className, children }: FormFieldProps) {
  // Once the person edits the control, its error is out of date: hide it until the next attempt. A
  // new attempt clears every error first (use-server-action), so even the same message shows again.
  const [dismissed, setDismissed] = React.useState<string | null>(null);
  const [previous, setPrevious] = React.useState(given);
  if (given !== previous) {
    setPrevious(given);
    setDismissed(null);
  }
  const error = given && given !== dismissed ? given : null;
  const edited = React.useCallback(() => {
    if (given) setDismissed(given);
  }, [given]);

  const descriptionId = description ? `${id}-description` : undefined;
  const errorId = error ? `${id}-error` : undefined;

  const describedBy = [descriptionId, errorId].filter(Boolean).join(" ") || undefined;
  const fieldProps = React.useMemo<FieldControlProps & { edited: () => void }>(
    () => ({ id, "aria-invalid": error ? true : undefined, "aria-describedby": describedBy, "aria-required": required ? true : undefined, edited }),
    [id, error, describedBy, required, edited],
  );

  // Native controls get the props directly; components read them from FieldContext, so a wrapper
  // element never receives the id as well as the control inside it.
  let control: React.ReactNode = children;
  if (
    React.isValidElement<FieldControlProps>(children) &&
    typeof children.type === "string" &&
    nativeControls.has(children.type)
  ) {
    const own = children.props;
    control = React.cloneElement(children, {
      id: own.id ?? id,
      "aria-invalid": own["aria-invalid"] ?? fieldProps["aria-invalid"],
      "aria-describedby": [own["aria-describedby"], describedBy].filter(Boolean).join(" ") || undefined,
      "aria-required": own["aria-required"] ?? ((own as { required?: boolean }).required ? undefined : fieldProps["aria-required"]),
    });
  }

  return (
    <div data-slot="form-field" data-invalid={error ? "true" : undefined} className={cn("grid content-start gap-2", className)}>
      <Label htmlFor={id} className={cn(error && "text-danger")}>
        {label}
        {required ? (
          <span aria-hidden="true" className="-ml-1 text-danger">
            *
          </span>
        ) : null}
      </Label>
      <div className="contents" onInput={edited} onChange={edited}>
        <FieldContext.Provider value={fieldProps}>{control}</FieldContext.Provider>
      </div>
      {/* The hint goes below the control, so that side-by-side fields (Host and Port) line their inputs up
          whether or not each has one. */}
      {description ? (
        <p id={descriptionId} className="-mt-1 text-[0.8125rem] text-muted-foreground">
          {description}
        </p>
      ) : null}
      {error ? (
        <p id={errorId} role="alert" className="text-[0.8125rem] font-medium text-danger">
          {error}
        </p>
      ) : null}
    </div>
  );
}
