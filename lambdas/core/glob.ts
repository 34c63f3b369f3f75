/**
 * Glob matching where `*` stands for any run of characters and nothing else is special (IAM's ARN
 * patterns without `?`), without backtracking. A pattern turned into a regular expression
 * (`.*` for each `*`) backtracks: against a name the caller chooses, 8 `*` and 64 characters took
 * 40 s. Here the parts between the `*` are found left to right, each at its leftmost place after the
 * one before; that is enough, since whatever a later part can match after a leftmost place it can
 * match after a later one. Each part is looked for once, so the work is bounded by
 * `pattern.length × (text.length + 1)` character comparisons, whatever the input.
 */
export interface GlobMatch {
  matches: boolean;
  /** The characters compared to decide it, bounded by `pattern.length × (text.length + 1)`. */
  comparisons: number;
}

/** Whether `text` matches `pattern`, in which `*` stands for any run of characters. */
export function globMatches(pattern: string, text: string): boolean {
  return globMatch(pattern, text).matches;
}

/** {@link globMatches} with the work it took, so tests can hold the bound. */
export function globMatch(pattern: string, text: string): GlobMatch {
  let comparisons = 0;
  const occursAt = (part: string, at: number): boolean => {
    for (let i = 0; i < part.length; i++) {
      comparisons++;
      if (text[at + i] !== part[i]) return false;
    }
    return true;
  };
  const decided = (matches: boolean): GlobMatch => ({ matches, comparisons });

  const parts = pattern.split('*');
  const first = parts.shift() as string;
  const last = parts.pop();
  if (last === undefined) return decided(text.length === first.length && occursAt(first, 0));
  // The text starts with the first part and ends with the last, without the two overlapping.
  const end = text.length - last.length;
  if (end < first.length || !occursAt(first, 0) || !occursAt(last, end)) return decided(false);
  let from = first.length;
  for (const part of parts) {
    let at = from;
    while (at + part.length <= end && !occursAt(part, at)) at++;
    if (at + part.length > end) return decided(false);
    from = at + part.length;
  }
  return decided(true);
}
