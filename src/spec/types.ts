// The build spec: one guest, fully described (target, source, fixups, domain, checks). The YAML
// file, the command-line flags and the fleet file all come down to this one typed object.

// The types come from the zod schema (schema.ts): one definition for types, validation and docs.
export type { BuildSpec, TargetSection, SourceSection, NetworkSection, DomainSection, SpecFixupOptions, SpecFs, SpecDiskFormat, SpecCompression } from './schema.js';

/** One spec error: where it is and what is wrong. */
export interface SpecIssue {
  /** The spec file, or "command line". */
  file: string;
  /** 1-based line in the file; 0 when it came from a flag or is missing altogether. */
  line: number;
  /** Dotted field path: "target.size", "guests[2].ip". */
  field: string;
  message: string;
}

export function formatIssue(i: SpecIssue): string {
  return `${i.file}${i.line > 0 ? `:${i.line}` : ''}: ${i.field}: ${i.message}`;
}
