// The fleet file's `hosts:` section and each guest's `host:` / `requires:` (zod schemas), and the
// placement of guests on hosts: a named host, else the host the guest's disk is already on, else the
// least-loaded host whose labels match `requires:`. Pure: no I/O, so the coordinator prints the
// placement before anything is queued and the unit tests check it.

import { z } from 'zod';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;

export const LabelsSchema = z.record(z.string().regex(LABEL_KEY, 'is not a label name'), z.union([z.string(), z.number(), z.boolean()]).transform(String));

/** One Dom0 of the fleet. */
export const FleetHostSchema = z
  .object({
    name: z.string().regex(NAME, 'is not a host name (letters, digits, _ . -)').describe("the Dom0's name, as its worker is started (domu-forge worker --host NAME)"),
    concurrency: z.int().min(1).max(64).default(2).describe('guests this host builds at once'),
    directory: z.string().min(1).optional().describe("overrides the fleet's directory (guest disks) on this host"),
    configDir: z.string().min(1).optional().describe("overrides the fleet's configDir (xl configs) on this host"),
    labels: LabelsSchema.default({}).describe("the host's labels, matched by a guest's requires:").meta({ docType: 'mapping of label: value' }),
  })
  .strict();

export const FleetHostsSchema = z.array(FleetHostSchema).min(1, 'must list at least one host').superRefine((hosts, ctx) => {
  const seen = new Map<string, number>();
  hosts.forEach((h, i) => {
    const prev = seen.get(h.name);
    if (prev !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${h.name}" is already used by hosts[${prev}]` });
    else seen.set(h.name, i);
  });
});

/** The per-guest fields this module adds to a fleet guest. */
export const GuestPlacementFieldsSchema = z.object({
  host: z.string().regex(NAME, 'is not a host name').optional(),
  requires: LabelsSchema.optional(),
});

export type FleetHost = z.output<typeof FleetHostSchema>;
export type GuestPlacementFields = z.output<typeof GuestPlacementFieldsSchema>;

/** What placement needs of a guest. */
export interface PlaceableGuest {
  name: string;
  host?: string | undefined;
  requires?: Record<string, string> | undefined;
}

export type PlacementReason = 'named' | 'stays' | 'least-loaded';

export interface Placement {
  guest: string;
  host: string;
  reason: PlacementReason;
}

export interface PlacementIssue {
  /** Index of the guest in the fleet file. */
  index: number;
  field: 'host' | 'requires';
  message: string;
}

export interface PlacementResult {
  placements: Placement[];
  issues: PlacementIssue[];
}

export function labelsMatch(host: FleetHost, requires: Record<string, string> | undefined): boolean {
  return Object.entries(requires ?? {}).every(([k, v]) => host.labels[k] === v);
}

function describeRequires(requires: Record<string, string>): string {
  return Object.entries(requires).map(([k, v]) => `${k}=${v}`).join(', ');
}

/**
 * Place every guest. `previous` maps a guest to the host its disk is on (from the inventory):
 * such a guest stays there while that host exists and still matches. The rest go, in file order,
 * to the matching host with the lowest load (guests placed / concurrency; ties: the first in the file).
 * The result does not depend on the order of `previous`, so reruns place the same way.
 */
export function placeGuests(hosts: readonly FleetHost[], guests: readonly PlaceableGuest[], previous: ReadonlyMap<string, string> = new Map()): PlacementResult {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const load = new Map(hosts.map((h) => [h.name, 0]));
  const out: Array<Placement | undefined> = guests.map(() => undefined);
  const issues: PlacementIssue[] = [];
  const assign = (i: number, host: string, reason: PlacementReason) => {
    out[i] = { guest: guests[i]!.name, host, reason };
    load.set(host, (load.get(host) ?? 0) + 1);
  };
  // 1. named hosts, 2. guests whose disk is already on a host, 3. the rest by load
  guests.forEach((g, i) => {
    if (g.host === undefined) return;
    const h = byName.get(g.host);
    if (!h) issues.push({ index: i, field: 'host', message: `no host named "${g.host}" in hosts: (there are: ${hosts.map((x) => x.name).join(', ')})` });
    else if (!labelsMatch(h, g.requires)) issues.push({ index: i, field: 'requires', message: `host ${h.name} does not have the labels ${describeRequires(g.requires!)}` });
    else assign(i, h.name, 'named');
  });
  guests.forEach((g, i) => {
    if (g.host !== undefined) return;
    const prev = previous.get(g.name);
    const h = prev === undefined ? undefined : byName.get(prev);
    if (h && labelsMatch(h, g.requires)) assign(i, h.name, 'stays');
  });
  guests.forEach((g, i) => {
    if (g.host !== undefined || out[i]) return;
    let best: FleetHost | undefined;
    let bestLoad = Infinity;
    for (const h of hosts) {
      if (!labelsMatch(h, g.requires)) continue;
      const l = (load.get(h.name) ?? 0) / h.concurrency;
      if (l < bestLoad) {
        best = h;
        bestLoad = l;
      }
    }
    if (!best) issues.push({ index: i, field: 'requires', message: `no host has the labels ${describeRequires(g.requires ?? {})}` });
    else assign(i, best.name, 'least-loaded');
  });
  return { placements: out.filter((p): p is Placement => p !== undefined), issues };
}

/** The placement as printed before anything is queued: one line per host, then per guest. */
export function formatPlacement(hosts: readonly FleetHost[], placements: readonly Placement[]): string {
  const lines: string[] = [];
  for (const h of hosts) {
    const mine = placements.filter((p) => p.host === h.name);
    lines.push(`${h.name} (concurrency ${h.concurrency}${Object.keys(h.labels).length ? `; ${describeRequires(h.labels)}` : ''}): ${mine.length} guest${mine.length === 1 ? '' : 's'}`);
    for (const p of mine) lines.push(`  ${p.guest}${p.reason === 'least-loaded' ? '' : ` (${p.reason === 'named' ? 'host: named' : 'stays with its disk'})`}`);
  }
  return lines.join('\n');
}

/** A zod error's issues as "hosts[1].name: message" (the fleet schema puts file and line on them). */
export function zodIssues(prefix: ReadonlyArray<string | number>, error: z.ZodError): Array<{ path: Array<string | number>; message: string }> {
  return error.issues.map((i) => ({ path: [...prefix, ...(i.path as Array<string | number>)], message: i.message }));
}

/** Parse a `hosts:` section. */
export function parseHosts(value: unknown): { hosts?: FleetHost[]; issues: Array<{ path: Array<string | number>; message: string }> } {
  const r = FleetHostsSchema.safeParse(value);
  return r.success ? { hosts: r.data, issues: [] } : { issues: zodIssues(['hosts'], r.error) };
}
