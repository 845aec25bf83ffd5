// `domu-forge defaults`: the site defaults file (/etc/domu-forge/defaults.yaml, --defaults FILE or
// DOMU_FORGE_DEFAULTS): show it, or make it from an existing xen-tools.conf, key by key.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { DomuError, errnoCode, oneLine } from '../errors.js';
import { convertXenTools, parseXenToolsConf, renderDefaultsFile } from '../spec/xen-tools.js';
import { printJson } from './output.js';

export const XEN_TOOLS_CONF = '/etc/xen-tools/xen-tools.conf';

/** The site defaults file: --defaults, then DOMU_FORGE_DEFAULTS, then /etc/domu-forge/defaults.yaml. */
export function defaultsPath(given?: string): string {
  return resolve(given ?? (process.env.DOMU_FORGE_DEFAULTS || '/etc/domu-forge/defaults.yaml'));
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new DomuError('BAD_INPUT', `${what} ${file} does not exist`);
    throw new DomuError('BAD_INPUT', `${what} ${file}: ${oneLine(e)}`);
  }
}

export function register(program: Command): void {
  program
    .command('defaults')
    .description('show the site defaults file, or make it from xen-tools.conf (--from-xen-tools)')
    .option('--from-xen-tools [file]', `convert a xen-tools config (default ${XEN_TOOLS_CONF})`)
    .option('--defaults <file>', 'the defaults file (default: $DOMU_FORGE_DEFAULTS or /etc/domu-forge/defaults.yaml)')
    .option('--stdout', 'with --from-xen-tools: print the file instead of writing it')
    .option('--force', 'with --from-xen-tools: replace an existing defaults file')
    .option('--json', 'print the conversion (or the file) as JSON')
    .addHelpText('after', `
Site defaults are spec fields (the same as a build spec's) that every build starts from. A spec
file overrides them, and flags override both; \`build --print-spec\` shows where each value came from.

--from-xen-tools reads xen-tools.conf key by key and prints, for each, the spec field it became or
why it was not carried over (those reasons also head the written file as comments). It refuses to
replace an existing defaults file without --force (exit status 2); the file is written whole or not
at all (mode 0644, in a new /etc/domu-forge if needed).

Exit statuses: 0 done, 2 bad input (a missing xen-tools.conf, an existing defaults file).`)
    .action((opts: { fromXenTools?: string | boolean; defaults?: string; stdout?: boolean; force?: boolean; json?: boolean }) => {
      const out = defaultsPath(opts.defaults);
      if (opts.fromXenTools === undefined) {
        const text = existsSync(out) ? readFileSync(out, 'utf8') : undefined;
        if (opts.json) printJson({ ok: true, file: out, exists: text !== undefined, text });
        else process.stdout.write(text === undefined ? `no site defaults: ${out} does not exist\n` : `# ${out}\n${text}`);
        return;
      }
      const from = resolve(typeof opts.fromXenTools === 'string' ? opts.fromXenTools : XEN_TOOLS_CONF);
      const conv = convertXenTools(parseXenToolsConf(readText(from, 'xen-tools config')));
      const file = renderDefaultsFile(conv, from, (v) => stringify(v));
      if (!opts.stdout) {
        if (existsSync(out) && !opts.force) throw new DomuError('BAD_INPUT', `${out} exists; add --force to replace it`);
        mkdirSync(dirname(out), { recursive: true, mode: 0o755 });
        const tmp = `${out}.${process.pid}.tmp`;
        writeFileSync(tmp, file, { mode: 0o644 });
        renameSync(tmp, out);
      }
      if (opts.json) {
        printJson({ ok: true, from, file: opts.stdout ? undefined : out, defaults: conv.defaults, carried: conv.carried, notCarried: conv.notCarried });
        return;
      }
      if (opts.stdout) {
        process.stdout.write(file);
        return;
      }
      const lines = [`${from} -> ${out}`, 'carried over:'];
      for (const c of conv.carried) lines.push(`  ${c.key} = ${c.value}  ->  ${c.field}${c.note ? ` (${c.note})` : ''}`);
      lines.push(conv.notCarried.length > 0 ? 'not carried over:' : 'everything was carried over');
      for (const n of conv.notCarried) lines.push(`  ${n.key} = ${n.value}: ${n.note}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
