/**
 * The closure of `roots`: every path reachable through `referencesOf`. A path for which
 * `referencesOf` returns undefined is outside the graph: left out and not followed (a caller
 * that must know every path throws from `referencesOf` instead).
 */
export function closureOf(roots: Iterable<string>, referencesOf: (path: string) => readonly string[] | undefined): Set<string> {
  const seen = new Set<string>();
  const pending = [...roots];
  while (pending.length) {
    const p = pending.pop()!;
    if (seen.has(p)) continue;
    const refs = referencesOf(p);
    if (!refs) continue;
    seen.add(p);
    for (const ref of refs) if (!seen.has(ref)) pending.push(ref);
  }
  return seen;
}
