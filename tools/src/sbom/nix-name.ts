// A store path's package name and version, split the way Nix's `builtins.parseDrvName` does
// (libexpr names.cc: the version starts after the first `-` that is followed by a character
// that is not a letter). Hand-written: six lines, and no npm package does this.

export interface DrvName {
  name: string;
  version: string;
}

export function parseDrvName(s: string): DrvName {
  for (let i = 0; i + 1 < s.length; i++) if (s[i] === '-' && !/[A-Za-z]/.test(s[i + 1]!)) return { name: s.slice(0, i), version: s.slice(i + 1) };
  return { name: s, version: '' };
}

/** `/nix/store/<32-char hash>-<name>` → its hash part and its name (with version). */
export function storePathParts(path: string): { hash: string; fullName: string } {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return { hash: base.slice(0, 32), fullName: base.slice(33) };
}
