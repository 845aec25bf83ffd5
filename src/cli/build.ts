// `domu-forge build [SPEC.yaml]`: one guest from a spec file and/or flags, or a whole fleet from a
// fleet file. A thin CLI over runBuild() and buildFleet().

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DomuError, EXIT_STATUS } from '../errors.js';
import { CleanupStack } from '../cleanup.js';
import { abortOnSignals } from './signals.js';
import { planStages, checkStageIds, runBuild, type BuildResult } from '../pipeline/pipeline.js';
import { buildFleet, isFleetText, planFleet, readFleetFile, type FleetPlan, type FleetResult } from '../pipeline/fleet.js';
import { FLAG } from '../spec/flags.js';
import { SPEC_FLAGS, applySpecFlags, loadBuildSpec, SpecError, formatIssue } from '../spec/index.js';
import { ProgressLine, formatDuration, printJson } from './output.js';
import { addFlag } from './target-options.js';
import type { SpecReader } from '../spec/check.js';
import { applyDefaultImageDir, applyDom0Suite, applyInstallDiskDefaults, applySiteDefaults, describeSpec, loadSiteDefaults } from '../spec/site-defaults.js';
import { guessDom0Suite } from '../spec/dom0-defaults.js';
import { diskPathOf, domainOf } from '../pipeline/pipeline.js';
import { renderXlConfig } from '../xen/render.js';

interface BuildCliOptions extends Record<string, unknown> {
  stopAfter?: string;
  skip: string[];
  listStages?: boolean;
  json?: boolean;
  defaults?: string;
  printSpec?: boolean;
  dryRun?: boolean;
  concurrency?: string;
  queue?: string;
  key?: string;
  detach?: boolean;
  attempts?: string;
}

function collect(v: string, acc: string[]): string[] {
  return [...acc, v];
}

export function printBuildResult(r: BuildResult): void {
  const lines = [`${r.name}: ${r.ok ? 'built' : `FAILED (${r.error?.message})`} in ${formatDuration(r.seconds)}`];
  for (const s of r.stages) {
    if (s.status === 'not-applicable') continue;
    lines.push(`  ${s.status.padEnd(8)} ${s.id.padEnd(22)} ${s.seconds >= 0.05 ? formatDuration(s.seconds).padStart(6) : '      '}  ${s.note ?? ''}`);
  }
  if (r.verify && !r.verify.identical) {
    for (const d of r.verify.differences.slice(0, 20)) lines.push(`    ${d.kind} ${d.path} ${d.source ?? ''}${d.target !== undefined ? ` -> ${d.target}` : ''}`);
  }
  if (r.config) lines.push(`  config: ${r.config}`);
  if (r.target) lines.push(`  disk:   ${r.target.path}`);
  if (r.access) lines.push(`  login:  ${r.access.user}, generated password ${r.access.generatedPassword} (shown once, stored nowhere)`);
  if (r.accountsNote) lines.push(`  login:  ${r.accountsNote}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** One live line per guest being built, redrawn in place on a terminal (stderr); silent otherwise. */
class FleetProgress {
  private readonly lines = new Map<string, string>();
  private drawn = 0;
  private last = 0;
  private readonly enabled = Boolean(process.stderr.isTTY);

  set(name: string, text: string | undefined): void {
    if (text === undefined) this.lines.delete(name);
    else this.lines.set(name, text);
    const now = Date.now();
    if (now - this.last >= 100 || text === undefined) this.draw();
  }

  private draw(): void {
    if (!this.enabled) return;
    this.last = Date.now();
    const width = (process.stderr.columns || 100) - 1;
    let out = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    const rows = [...this.lines].map(([n, t]) => `${n}: ${t}`.slice(0, width));
    for (const row of rows) out += `\r\x1b[2K${row}\n`;
    // clear what is left of a longer previous block
    for (let i = rows.length; i < this.drawn; i++) out += '\r\x1b[2K\n';
    if (this.drawn > rows.length) out += `\x1b[${this.drawn - rows.length}A`;
    process.stderr.write(out);
    this.drawn = rows.length;
  }

  /** Print a permanent line above the live block. */
  log(line: string): void {
    if (!this.enabled) {
      process.stderr.write(`${line}\n`);
      return;
    }
    const keep = new Map(this.lines);
    this.lines.clear();
    this.draw();
    process.stderr.write(`${line}\n`);
    for (const [k, v] of keep) this.lines.set(k, v);
    this.drawn = 0;
    this.draw();
  }

  clear(): void {
    this.lines.clear();
    this.draw();
  }
}

function printFleetResult(r: FleetResult): void {
  const rows = [['guest', 'status', 'ip', 'time', 'note']];
  for (const g of r.guests) rows.push([g.name, g.status, g.ip ?? '', g.seconds > 0 ? formatDuration(g.seconds) : '', g.error ?? g.note ?? '']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const out = rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  out.push('');
  out.push(`base ${r.base.status} (${r.base.key.slice(0, 12)}) in ${formatDuration(r.base.seconds)}; ` +
    `${r.guests.filter((g) => g.status === 'built').length} built, ${r.guests.filter((g) => g.status === 'unchanged').length} unchanged, ` +
    `${r.guests.filter((g) => g.status === 'failed').length} failed; ${formatDuration(r.seconds)} in all`);
  process.stdout.write(`${out.join('\n')}\n`);
}

/** A local fleet's dry run: the base, and each guest's stages, disk and config; nothing touched. */
function printFleetPlan(plan: FleetPlan, json: boolean): void {
  if (json) {
    printJson({ ok: true, dryRun: true, ...plan });
    return;
  }
  const out = [`base ${plan.base.image} (key ${plan.base.key.slice(0, 12)}): ${plan.base.status === 'cached' ? 'cached, reused' : `to build: ${plan.base.stages.filter((s) => !s.skip).map((s) => s.id).join(', ')}`}`];
  const rows = [['guest', 'status', 'address', 'disk', 'config'], ...plan.guests.map((g) => [g.name, g.status, g.address, g.image, g.config])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  out.push('', ...rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()));
  const toBuild = plan.guests.find((g) => g.status === 'to build');
  if (toBuild) out.push('', `stages of each guest to build: ${toBuild.stages.filter((s) => !s.skip).map((s) => s.id).join(', ')}`);
  out.push(`dry run: ${plan.guests.filter((g) => g.status === 'to build').length} of ${plan.guests.length} guests would be built; nothing was touched`);
  process.stdout.write(`${out.join('\n')}\n`);
}

export function register(program: Command): void {
  const cmd = program
    .command('build')
    .description('build a guest from a spec (target, source, fixups, domain config, verify, boot test), or a fleet of guests')
    .argument('[spec]', 'a build spec or a fleet file (YAML); flags alone describe a one-off build');
  for (const f of SPEC_FLAGS) addFlag(cmd, f);
  cmd
    .option('--stop-after <id>', 'stop after this stage (the target is still closed and recorded)')
    .option('--skip <id>', 'skip this stage; "fixup" skips all fixup stages (repeatable)', collect, [] as string[])
    .option('--list-stages', 'print the stages this spec runs, and exit');
  addFlag(cmd, FLAG.defaults)
    .option('--print-spec', 'print the resolved spec, each value with where it came from (flag, spec file:line, site defaults, built-in), and exit')
    .option('--dry-run', 'print the stages it would run and the xl config it would write, and exit; nothing is touched (with --queue: each host\'s worker plans its guests and returns the plan)')
    .option('--concurrency <n>', 'fleets: guests built at once (default: the fleet file\'s, else 4)')
    .option('--queue <url>', 'fleets: queue the fleet for its hosts\' workers (redis://[user:password@]host:port[/db] or rediss://; $DOMU_FORGE_QUEUE for a fleet with hosts:)')
    .option('--key <file>', 'fleets through the queue: the fleet key (mode 0600) the jobs are signed with; default $DOMU_FORGE_KEY')
    .option('--detach', 'fleets through the queue: return once queued (domu-forge fleet status shows them later)')
    .option('--attempts <n>', 'fleets through the queue: tries per guest, with exponential backoff (default 3)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `
Stages, in order (ids for --stop-after and --skip):
  target/open     make and mount the image file, LVM volume, directory or tarball staging tree
  target/swap     make the swap disk (only with --swap): swap on xvda1, root on xvda2, as xen-tools
  source/clone    clone a root tree         | source/install  debootstrap/mmdebstrap, rpm + dnf
  source/extract  extract a rootfs tarball
  verify          compare the clone with its source (clones only), before the fixups change it
  packages        extra packages (--packages)
  fixup/NAME      the guest fixups, one stage each ("--skip fixup" skips them all)
  role/NAME       role scripts (--role), with the guest root as $1
  target/close    sync, unmount, detach, convert (runs after --stop-after too)
  xen/config      write the xl config (default /etc/xen/NAME.cfg)
  boot-test       boot the image and watch the console (--boot-test)
  inventory       record the guest for domu-forge list / delete
  xen/start       start the guest with xl create (--boot; exit 3 when xl info does not answer,
                  the built guest kept)

A fleet file (with "guests:") builds a shared base once (cached) and every guest from it.

Examples:
  domu-forge build examples/duncan.yaml
  domu-forge build examples/banquo.yaml --stop-after source/install
  domu-forge build --hostname web1 --clone / --exclude /srv --image /srv/xen/web1.img --size 4G \\
      --fs ext4 --memory 512M --ip 192.168.1.20 --netmask 24 --gateway 192.168.1.1 --kernel /boot/vmlinuz-6.1.0-13-amd64
  domu-forge build fleet.yaml --concurrency 4
  domu-forge build fleet.yaml --queue rediss://forge:PASSWORD@10.0.0.5:6379 --key /etc/domu-forge/fleet.key`)
    .action(async (file: string | undefined, opts: BuildCliOptions) => {
      const cleanup = new CleanupStack();
      const controller = new AbortController();
      const removeSignals = abortOnSignals(controller);
      const progress = new ProgressLine();
      const log = (line: string) => {
        progress.clear();
        if (!opts.json) process.stderr.write(`${line}\n`);
      };
      try {
        if (file !== undefined && isFleetText(readSpecText(file)) && (opts.queue !== undefined || (process.env.DOMU_FORGE_QUEUE && readFleetFile(file).hosts))) {
          removeSignals();
          // BullMQ is loaded only for a queued fleet
          await (await import('./fleet.js')).runQueuedBuild(file, opts);
          return;
        }
        if (opts.queue !== undefined || opts.detach) throw new DomuError('USAGE', '--queue and --detach are for fleet files (with guests: and hosts:)');
        if (file !== undefined && isFleetText(readSpecText(file))) {
          if (opts.dryRun) {
            printFleetPlan(await planFleet(readFleetFile(file)), opts.json === true);
            return;
          }
          const fp = new FleetProgress();
          const r = await buildFleet({
            file,
            signal: controller.signal,
            cleanup,
            ...(opts.concurrency !== undefined ? { concurrency: Number(opts.concurrency) } : {}),
            log: (line) => {
              if (!opts.json) fp.log(line);
            },
            onGuest: (name, text) => fp.set(name, text),
          });
          fp.clear();
          if (opts.json) printJson(r);
          else printFleetResult(r);
          if (r.guests.some((g) => g.status === 'failed') || r.base.status === 'failed') process.exitCode = EXIT_STATUS.FLEET_FAILED;
          return;
        }
        const defaults = loadSiteDefaults(opts.defaults);
        let reader: SpecReader | undefined;
        const spec = loadBuildSpec(file, (r) => {
          reader = r;
          if (defaults) applySiteDefaults(r, defaults.data, `site defaults ${defaults.file}`);
          applySpecFlags(r, opts);
          if (defaults) applyDefaultImageDir(r, defaults.data, `site defaults ${defaults.file}`);
          applyDom0Suite(r, () => guessDom0Suite());
          applyInstallDiskDefaults(r);
        });
        if (opts.printSpec) {
          const lines = describeSpec(spec, reader!);
          if (opts.json) printJson({ ok: true, spec, origins: Object.fromEntries(lines.map((l) => [l.field, l.origin])) });
          else process.stdout.write(`${lines.map((l) => `${l.field}: ${JSON.stringify(l.value)}  (${l.origin})`).join('\n')}\n`);
          return;
        }
        const stages = (await planStages(spec));
        checkStageIds(stages, opts);
        if (opts.dryRun) {
          const plan = stages.map((s) => ({ id: s.id, title: s.title, skip: s.skipReason?.(spec) ?? (opts.skip.some((k) => s.id === k || s.id.startsWith(`${k}/`)) ? 'skipped (--skip)' : undefined) }));
          const config = diskPathOf(spec) === undefined ? undefined : renderXlConfig(domainOf(spec), { checkPaths: false });
          if (opts.json) {
            printJson({ ok: true, dryRun: true, stages: plan, config: config ?? null, configPath: spec.domain.config });
            return;
          }
          const out = ['stages it would run:'];
          for (const s of plan) out.push(`  ${s.id.padEnd(22)} ${s.skip ? `(${s.skip})` : s.title}`);
          out.push(config === undefined ? 'no xl config (the target has no disk)' : `xl config it would write to ${spec.domain.config}:`);
          if (config !== undefined) out.push(config.trimEnd());
          out.push('dry run: nothing was touched');
          process.stdout.write(`${out.join('\n')}\n`);
          return;
        }
        if (opts.listStages) {
          for (const s of stages) {
            const na = s.skipReason?.(spec);
            process.stdout.write(`${s.id.padEnd(16)} ${na ? `(not applicable: ${na})` : s.title}\n`);
          }
          return;
        }
        const result = await runBuild(spec, {
          ...(opts.stopAfter ? { stopAfter: opts.stopAfter } : {}),
          skip: opts.skip,
          signal: controller.signal,
          cleanup,
          log,
          status: (t) => progress.update(t),
        });
        progress.clear();
        if (opts.json) printJson(result);
        else printBuildResult(result);
        if (result.error) {
          // --boot failing after a finished build: the one-line error says the build itself succeeded
          if (!opts.json && result.stages.some((s) => s.id === 'xen/start' && s.status === 'failed')) process.stderr.write(`domu-forge: ${result.error.message}\n`);
          const code = result.error.code as keyof typeof EXIT_STATUS;
          process.exitCode = EXIT_STATUS[code] ?? EXIT_STATUS.INTERNAL;
        }
      } catch (e) {
        if (e instanceof SpecError) {
          progress.clear();
          if (opts.json) printJson({ ok: false, error: { code: e.code, message: 'invalid spec', issues: e.issues } });
          for (const i of e.issues) process.stderr.write(`${formatIssue(i)}\n`);
          process.stderr.write(`domu-forge: ${e.issues.length} error${e.issues.length === 1 ? '' : 's'} in the spec; nothing was built\n`);
          process.exitCode = e.exitStatus;
          return;
        }
        throw e;
      } finally {
        progress.clear();
        removeSignals();
        await cleanup.runAll();
      }
    });
}

function readSpecText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new DomuError('BAD_INPUT', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}
