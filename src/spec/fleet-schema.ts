// The schema of the fleet file (zod), in two forms:
// - the file as written (fleetFileSchema): each field's type, default, description and error message,
//   read field by field as SpecReader reads a build spec (a number is taken as text where text is
//   asked for, a size is "4G", "512M" or MiB, null means absent, a list may be "a,b"). parseFleet
//   (src/pipeline/fleet.ts) parses the file with it and turns each zod issue into a file:line:field
//   error through the YAML line map. The `base:` section is a build spec, read by the spec reader
//   (load.ts), and `hosts:` is fleet-hosts.ts's schema.
// - the fleet as the builder receives it (fleetSchema): the Fleet and FleetGuest types come from it
//   (z.output), and parseFleet's result is checked against it, as readBuildSpec's is against schema.ts.
// The fleet file's reference in docs/spec.md is rendered from fleetFileSchema (docs.ts).
//
// To add a field: add it to the file form and the resolved form here, set it in parseFleet (or in
// toFleetGuest for a guest's), then run `npm run docs:spec`.

import { z } from 'zod';
import { buildSpecSchema, domainSection, imageTarget, networkSection } from './schema.js';
import { FleetHostSchema, FleetHostsSchema, GuestPlacementFieldsSchema } from './fleet-hosts.js';
import { sizeBytes } from '../sys/size.js';
import type { Path, SpecReader } from './check.js';
import { IPV4_RE, MAC_RE, NAME_RE } from './load.js';

// ---- fields as the file gives them (the rules and messages of SpecReader's getters) ----

/** null (an empty `key:` in YAML) is the same as leaving the field out. */
const absentIfNull = (v: unknown) => (v === null ? undefined : v);
const shown = (v: unknown) => `"${String(v)}"`;

/** Text: a string, or a number taken as its text; with a pattern, a value that does not match is refused. */
export function fileText(o: { pattern?: RegExp; patternText?: string } = {}) {
  const text = z.union([z.string(), z.number()], { error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') }).transform(String);
  return (o.pattern ? text.pipe(z.string().regex(o.pattern, { error: (iss) => `${shown(iss.input)} ${o.patternText ?? 'is not valid'}` })) : text).meta({ docType: 'string' });
}

/** A whole number in a range (a string of digits counts). */
export function fileWholeNumber(min: number, max: number) {
  const whole = { error: (iss: { input?: unknown }) => `${shown(iss.input)} must be a whole number` };
  const range = { error: (iss: { input?: unknown }) => `${String(iss.input)} is out of range (${min}..${max})` };
  return z
    .union([z.number().refine(Number.isInteger, whole), z.string().regex(/^\d+$/, whole).transform(Number)], whole)
    .pipe(z.number().min(min, range).max(max, range))
    .meta({ docType: `whole number (${min}..${max})` });
}

/** A size: 4G, 512M, 1.5G (binary units), a bare number is MiB; the value is in bytes (src/sys/size.ts). */
export function fileSize() {
  const message = (v: unknown) => `${shown(v)} is not a size (like 4G, 512M, or a number of MiB)`;
  return z
    .union([z.string(), z.number()], { error: (iss) => message(iss.input) })
    .transform((v, ctx) => {
      const bytes = sizeBytes(v);
      if (bytes === undefined) {
        ctx.addIssue({ code: 'custom', message: message(v), input: v });
        return z.NEVER;
      }
      return bytes;
    })
    .meta({ docType: 'size (4G, 512M; a bare number is MiB)' });
}

/** One of a few words. */
export function fileOneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (iss) => `${shown(iss.input)} is not one of ${values.join(', ')}` });
}

/** A list of strings, or one comma-separated string. */
export function fileTextList() {
  return z.preprocess(
    (v) => (v === undefined || v === null ? [] : typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
    z.array(z.union([z.string(), z.number()], { error: 'must be a string' }).transform(String), { error: 'must be a list (or a comma-separated string)' }),
  ).meta({ docType: 'list of strings (or "a, b")', default: [] });
}

/** A field that may be left out (or left empty). */
function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess(absentIfNull, schema.optional());
}
/** A field that must be given; `fallback` is what is used when it is left out. */
function withDefault<T extends z.ZodType>(schema: T, fallback: z.output<T>) {
  return z.preprocess(absentIfNull, schema.optional()).transform((v) => (v === undefined ? fallback : v) as z.output<T>).meta({ default: fallback });
}
function required<T extends z.ZodType>(schema: T) {
  return z.preprocess(absentIfNull, schema);
}

/** A mapping with these fields only; an unknown key is reported on its own line. */
function mapping<S extends z.ZodRawShape>(shape: S, known: 'known' | 'known here', order: ReadonlyArray<keyof S> = Object.keys(shape)) {
  const list = order.join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown field (${known}: ${list})` : iss.input === undefined || iss.input === null ? 'is required' : 'must be a mapping of fields'),
  });
}

/** The base's fields: a build spec without name, hostname, access and boot; its target is the fleet's cached image. */
export const FLEET_BASE_FIELDS = ['target', 'source', 'packages', 'fixups', 'roles', 'domain', 'verify', 'bootTest'] as const;

const d = (schema: z.ZodType) => schema.description ?? '';

/** One guest as the fleet file gives it. */
export const fleetGuestFields = mapping(
  {
    name: required(fileText({ pattern: NAME_RE, patternText: 'is not a domain name' })).describe(d(buildSpecSchema.shape.name)),
    hostname: optional(fileText({ pattern: /^[A-Za-z0-9][A-Za-z0-9.-]*$/, patternText: 'is not a hostname' })).describe('guest hostname').meta({ default: 'the name' }),
    ip: optional(fileText({ pattern: new RegExp(`${IPV4_RE.source}|^auto$`), patternText: 'is not an IPv4 address or auto' })).describe('static IPv4 address, or auto: the lowest free address of the pool (no ip: DHCP)'),
    mac: optional(fileText({ pattern: MAC_RE, patternText: 'is not a MAC address' })).describe(d(networkSection.shape.mac.unwrap())),
    size: optional(fileSize()).describe("disk size, when larger than the base's (its disk and filesystem are grown)"),
    packages: fileTextList().describe("extra packages installed on this guest (after the base's)"),
    memory: optional(fileSize()).describe('memory (overrides the base domain.memory)'),
    vcpus: optional(fileWholeNumber(1, 512)).describe('virtual CPUs (overrides the base domain.vcpus)'),
    host: GuestPlacementFieldsSchema.shape.host.describe('queued fleets: the host (in hosts:) it is built on'),
    requires: GuestPlacementFieldsSchema.shape.requires.describe('queued fleets: labels its host must have (placed on the least-loaded host that has them)').meta({ docType: 'mapping of label: value' }),
  },
  'known here',
);
export type FleetGuestFile = z.output<typeof fleetGuestFields>;

const GUESTS_MESSAGE = 'must be a list of at least one guest';

/** Measured in bench/fleet.ts (docs/performance.md#fleets): an overlay is made faster than a copy. */
export const DEFAULT_FLEET_METHOD = 'overlay' as const;

/** The fleet file. */
export const fleetFileSchema = mapping(
  {
    fleet: required(fileText({ pattern: NAME_RE, patternText: 'is not a name (letters, digits, _ . -)' })).describe("the fleet's name (the cached base is named after it)"),
    directory: required(fileText()).describe("where guest disks go: DIR/NAME.qcow2 (overlay) or DIR/NAME.img (copy); relative to the file's folder"),
    configDir: withDefault(fileText(), '/etc/xen').describe('where their xl configs go: DIR/NAME.cfg'),
    pool: optional(fileText()).describe('addresses for ip: auto, FIRST-LAST (10.0.0.10-10.0.0.50 or 10.0.0.10-50)'),
    concurrency: withDefault(fileWholeNumber(1, 64), 4).describe('guests built at once').meta({ flag: '--concurrency' }),
    method: withDefault(fileOneOf(['copy', 'overlay']), DEFAULT_FLEET_METHOD).describe('how a guest is made from the base: a qcow2 overlay on it, or a sparse raw copy'),
    hosts: FleetHostsSchema.optional().describe('queued fleets (build --queue): the Dom0s the guests are built on'),
    base: required(z.record(z.string(), z.unknown(), { error: (iss) => (iss.input === undefined ? 'is required (the shared target settings, source, fixups and domain)' : 'must be a mapping') }))
      .describe(`the shared base, built once and cached: a build spec (above) with only ${FLEET_BASE_FIELDS.join(', ')}; its target gives only size, fs and label (the base is a raw image under the state directory)`)
      .meta({ docType: 'build spec' }),
    guests: z.array(fleetGuestFields, { error: GUESTS_MESSAGE }).min(1, { error: GUESTS_MESSAGE }).describe('the guests: each a copy or overlay of the base with its own identity'),
  },
  'known',
  ['fleet', 'base', 'guests', 'directory', 'configDir', 'pool', 'concurrency', 'method', 'hosts'],
);
export type FleetFile = z.output<typeof fleetFileSchema>;

/** The guest the builder receives, from the guest the file gives. */
export function toFleetGuest(g: FleetGuestFile): FleetGuest {
  return {
    ...(g.host !== undefined ? { host: g.host } : {}),
    ...(g.requires !== undefined ? { requires: g.requires } : {}),
    name: g.name,
    hostname: g.hostname ?? g.name,
    packages: g.packages,
    ...(g.ip ? { ip: g.ip } : {}),
    ...(g.mac ? { mac: g.mac.toLowerCase() } : {}),
    ...(g.size ? { size: g.size } : {}),
    ...(g.memory ? { memory: Math.round(g.memory / 2 ** 20) } : {}),
    ...(g.vcpus ? { vcpus: g.vcpus } : {}),
  };
}

// ---- the fleet the builder receives ----

export const fleetGuestSchema = z.object({
  name: buildSpecSchema.shape.name,
  hostname: z.string(),
  ip: z.string().regex(new RegExp(`${IPV4_RE.source}|^auto$`)).optional(),
  mac: networkSection.shape.mac,
  size: imageTarget.shape.size,
  packages: buildSpecSchema.shape.packages,
  /** MiB. */
  memory: z.number().int().positive().optional(),
  vcpus: domainSection.shape.vcpus.optional(),
  host: GuestPlacementFieldsSchema.shape.host,
  requires: z.record(z.string(), z.string()).optional(),
});

export const fleetSchema = z.object({
  name: buildSpecSchema.shape.name,
  /** The fleet file (absolute). */
  file: z.string(),
  /** The base, as a build spec whose target is the cached base image. */
  base: buildSpecSchema,
  guests: z.array(fleetGuestSchema).min(1),
  /** Where guest images go: DIR/NAME.img (absolute). */
  directory: z.string(),
  /** Where their xl configs go: DIR/NAME.cfg (absolute). */
  configDir: z.string(),
  pool: z.string().optional(),
  concurrency: z.number().int().min(1).max(64),
  /** How a guest is made from the base: a sparse copy (standalone raw image) or a qcow2 overlay. */
  method: z.enum(['copy', 'overlay']),
  /** The Dom0s a queued fleet is built on (domu-forge build --queue); absent for a local fleet. */
  hosts: z.array(FleetHostSchema).optional(),
});

export type FleetGuest = z.output<typeof fleetGuestSchema>;
export type Fleet = z.output<typeof fleetSchema>;

// ---- reading: zod issues as file:line:field errors, and the checks across fields ----

/** Put a zod error's issues on a reader (which knows each field's line): an unknown key gets its own line. */
export function reportIssues(r: SpecReader, prefix: Path, error: z.ZodError): void {
  for (const iss of error.issues) {
    const path = [...prefix, ...(iss.path as Array<string | number>)];
    if (iss.code === 'unrecognized_keys' && iss.message.startsWith('unknown field')) for (const k of iss.keys) r.issue([...path, k], iss.message);
    else r.issue(path, iss.message);
  }
}

type Valid<S extends z.ZodRawShape> = { [K in keyof S]?: z.output<S[K]> };

/** The fields of a mapping that are valid on their own (the checks across fields use them when another field is wrong). */
export function validFields<S extends z.ZodRawShape>(schema: z.ZodObject<S>, value: unknown): Valid<S> {
  const out: Record<string, unknown> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out as Valid<S>;
  for (const [k, s] of Object.entries(schema.shape)) {
    const r = (s as z.ZodType).safeParse((value as Record<string, unknown>)[k]);
    if (r.success) out[k] = r.data;
  }
  return out as Valid<S>;
}

export interface FieldProblem {
  path: Array<string | number>;
  message: string;
}

/**
 * What no single field can check: a guest's ip: auto needs a pool; names, addresses and MACs are
 * each used once; a guest's host: names a host of hosts: (when the file has one). Only valid fields
 * take part, so a wrong value is reported once, by its own field.
 */
export function fleetFileProblems(top: Valid<typeof fleetFileSchema.shape>, guests: ReadonlyArray<Valid<typeof fleetGuestFields.shape>>): FieldProblem[] {
  const out: FieldProblem[] = [];
  const seen = { name: new Map<string, number>(), ip: new Map<string, number>(), mac: new Map<string, number>() };
  const hostNames = top.hosts?.map((h) => h.name);
  guests.forEach((g, i) => {
    const P = ['guests', i];
    if (g.ip === 'auto' && top.pool === undefined) out.push({ path: [...P, 'ip'], message: 'auto needs a pool (pool: 10.0.0.10-10.0.0.50)' });
    for (const [field, v] of [['name', g.name], ['ip', g.ip === 'auto' ? undefined : g.ip], ['mac', g.mac?.toLowerCase()]] as const) {
      if (v === undefined) continue;
      const prev = seen[field].get(v);
      if (prev !== undefined) out.push({ path: [...P, field], message: `"${v}" is already used by guests[${prev}]` });
      else seen[field].set(v, i);
    }
    if (hostNames && g.host !== undefined && !hostNames.includes(g.host)) out.push({ path: [...P, 'host'], message: `no host named "${g.host}" in hosts: (there are: ${hostNames.join(', ')})` });
  });
  return out;
}
