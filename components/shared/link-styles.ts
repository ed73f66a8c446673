/**
 * A link among other text (a detail page's values, a table's secondary cell): underlined from the
 * start, so it does not read as plain text. A table's first column, where every row's name is a link,
 * needs only hover:underline.
 */
export const INLINE_LINK = "underline decoration-muted-foreground/50 underline-offset-4 hover:decoration-foreground";
