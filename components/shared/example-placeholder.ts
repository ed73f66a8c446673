/**
 * A field's example value as its placeholder: "e.g. payroll", so an empty required field cannot be
 * taken for a filled one. Markers of a format ("-----BEGIN CERTIFICATE-----") are shown as they are.
 */
export function examplePlaceholder(example: string | undefined): string | undefined {
  if (!example || example.startsWith("-----") || /^e\.g\.\s/i.test(example)) return example;
  return `e.g. ${example}`;
}
