// The organisation tree as the console shows it: parents first, each
// organisation followed by those below it, with its depth for indenting.
import type { Org } from "./api";

export interface OrgNode {
  org: Org;
  depth: number;
}

/** `orgs` (the server's list, any order) as a depth-first tree; an
 * organisation whose parent is not in the list is a root of it. */
export function orgTree(orgs: readonly Org[]): OrgNode[] {
  const ids = new Set(orgs.map((o) => o.id));
  const children = new Map<string | null, Org[]>();
  for (const o of orgs) {
    const p = o.parent && ids.has(o.parent) ? o.parent : null;
    children.set(p, [...(children.get(p) ?? []), o]);
  }
  const out: OrgNode[] = [];
  // The server bounds the tree's size; `seen` guards against a cycle all the same.
  const seen = new Set<string>();
  const walk = (p: string | null, depth: number) => {
    for (const o of (children.get(p) ?? []).sort((a, b) => a.name.localeCompare(b.name))) {
      if (seen.has(o.id)) continue;
      seen.add(o.id);
      out.push({ org: o, depth });
      walk(o.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

/** An option's text for a tree node: indented with no-break spaces, since
 * a `<select>` ignores padding on its options. */
export const indented = (n: OrgNode, text: string) => `${"\u00a0\u00a0\u00a0".repeat(n.depth)}${n.depth ? "└ " : ""}${text}`;

// The switcher's choice is kept per user (two people sharing a browser
// each get their own) in localStorage, across sign-ins.
const key = (user: string) => `taishi.org.${user}`;
export const savedOrg = (user: string): string | null => localStorage.getItem(key(user));
export function saveOrg(user: string, org: string | null) {
  if (org) localStorage.setItem(key(user), org);
  else localStorage.removeItem(key(user));
}
