// `domu-forge install <distro> [dir]`: a thin command over build's runner (target/open,
// source/install, target/close), writing into any target (a directory, --image, --lvm, --device, --tar).

import { Command, Option } from 'commander';
import { abortOnSignals } from './signals.js';
import { DomuError, isDomuError } from '../errors.js';
import {
  DEBIAN_DISTROS,
  DEBIAN_VARIANTS,
  DEFAULT_CACHE_DIR,
  checkInstallOptions,
  RPM_DISTROS,
  estimateInstallBytes,
  type DebianInstallOptions,
  type DebianVariant,
  type Distro,
  type InstallOptions,
  type InstallProgress,
  type InstallResult,
  type RpmInstallOptions,
  type SelinuxMode,
} from '../install/index.js';
import { defaultLogFile } from '../install/progress.js';
import { splitList } from '../install/util.js';
import { describeTarget, type TargetSummary } from '../targets/index.js';
import { runStages, targetSpecOf } from '../pipeline/pipeline.js';
import { applyDom0Suite } from '../spec/site-defaults.js';
import { guessDom0Suite } from '../spec/dom0-defaults.js';
import { ProgressLine, formatDuration, printJson } from './output.js';
import { formatSize } from '../sys/size.js';
import { addTargetOptions, commandSpec, targetSpecFromOptions } from './target-options.js';

interface InstallCliOptions {
  dist?: string;
  suite?: string;
  mirror?: string;
  variant?: string;
  include: string[];
  arch?: string;
  tool?: string;
  components?: string;
  keyring?: string;
  pygrub?: boolean;
  bootloader?: string;
  kernel: boolean;
  ssh: boolean;
  cacheDir?: string;
  cache: boolean;
  rootCache: boolean;
  indexMaxAge: string;
  releaseRpm?: string;
  repo: string[];
  group?: string;
  packages: string[];
  packageManager?: string;
  releasever?: string;
  selinux?: string;
  gpgcheck: boolean;
  log?: string;
  json?: boolean;
  [target: string]: unknown;
}

const collect = (v: string, acc: string[]) => [...acc, v];

export function register(program: Command): void {
  const cmd = program
    .command('install')
    .description('install Debian/Ubuntu (debootstrap, mmdebstrap) or a Red Hat family release (rpm + dnf/yum) into a target')
    .argument('<distro>', `${[...DEBIAN_DISTROS, ...RPM_DISTROS].join(', ')} ("rpm": any RPM distribution)`)
    .argument('[dir]', 'install into this directory (or give --image, --lvm, --device or --tar)')
    .option('--dist <suite>', 'Debian/Ubuntu suite or code name: bookworm, trixie, jammy ... (xen-create-image\'s --dist)')
    .option('--suite <suite>', 'the same as --dist')
    .option('--mirror <url>', 'archive mirror (default http://deb.debian.org/debian, http://archive.ubuntu.com/ubuntu)')
    .addOption(new Option('--variant <variant>', 'package set: minbase (essential + apt), buildd, important (debootstrap\'s default; the default here unless the site defaults say otherwise), standard (mmdebstrap only)').choices(DEBIAN_VARIANTS as string[]))
    .option('--include <packages>', 'extra packages, comma separated (repeatable): --include ssh,udev,linux-image-amd64', collect, [] as string[])
    .option('--arch <arch>', 'guest architecture: amd64, i386 ... or x86_64 for RPM (default: the host\'s); on i386 libc6-xen is added where the suite has it')
    .addOption(new Option('--tool <tool>', 'Debian installer: auto (the default) picks mmdebstrap (the faster) when installed, else debootstrap').choices(['auto', 'debootstrap', 'mmdebstrap']))
    .option('--components <list>', 'archive components, comma separated (default main)')
    .option('--keyring <file>', 'keyring to check the archive signature with (default: the distribution\'s archive keyring)')
    .option('--pygrub', "prepare for PyGRUB: /etc/modules lists xennet and xenblk (written before any package is installed); installs the distribution's kernel")
    .option('--bootloader <how>', 'pygrub (as --pygrub) or pvgrub (GRUB for Xen PV reads the guest\'s own grub.cfg)')
    .option('--no-kernel', 'with --pygrub or --bootloader: no kernel package (bring your own)')
    .option('--no-ssh', 'no openssh-server (installed by default)')
    .option('--cache-dir <dir>', `package and root cache, reused across runs (default $DOMU_FORGE_CACHE_DIR, else ${DEFAULT_CACHE_DIR})`)
    .option('--no-cache', 'download everything and keep nothing')
    .option('--index-max-age <seconds>', 'trust cached index files (InRelease, repomd.xml) this long without asking the mirror; 0 always asks', '3600')
    .option('--no-root-cache', 'always run the installer, even when an identical install is cached')
    .option('--release-rpm <file|url>', 'RPM: the release package that defines the repositories (rpm -ivh --nodeps)')
    .option('--repo <url>', 'RPM: an extra repository baseurl (repeatable)', collect, [] as string[])
    .option('--group <group>', 'RPM: comps group to install (default Base; "" for none)')
    .option('--packages <packages>', 'RPM: extra packages, comma separated (repeatable)', collect, [] as string[])
    .option('--package-manager <name>', 'RPM: the guest\'s package manager, installed first (default dnf; yum for old releases)')
    .option('--releasever <version>', 'RPM: $releasever (default: what the release package provides)')
    .addOption(new Option('--selinux <mode>', 'RPM: SELinux mode written to the guest\'s /etc/selinux/config').choices(['disabled', 'permissive', 'enforcing']).default('permissive'))
    .option('--no-gpgcheck', 'RPM: do not check package signatures')
    .option('--log <file>', 'full output of the tools (default /var/log/domu-forge/install-<distro>-<suite>-<time>.log)')
    .option('--json', 'print the result as JSON');
  addTargetOptions(cmd);
  cmd.addHelpText('after', `
Debian and Ubuntu go in with mmdebstrap or debootstrap; the Red Hat family with rpm --initdb,
rpm -ivh --nodeps <release rpm>, then dnf (yum where the host has only yum) --installroot:
the package manager, the group, the extra packages. Downloads pass through a cache in --cache-dir
(packages/), so a second install of the same suite downloads nothing; a finished install is kept
there too (roots/, keyed by every input and the archive's signed index) and reused when identical.
The Xen details: --pygrub writes /etc/modules first; the persistent-net rules debootstrap ties to
this host's MAC address are removed; RPM guests get /etc/modprobe.d/xen.conf and --selinux.

Examples:
  domu-forge install debian --dist bookworm --variant minbase --include ssh,udev out/banquo
  domu-forge install debian --dist bookworm --image banquo.img --size 2G --pygrub \\
      --include linux-image-amd64,ssh,udev
  domu-forge install rocky --release-rpm http://mirror/rocky-release-9.4-1.el9.noarch.rpm \\
      --group core --lvm scotland/malcom --size 4G
  domu-forge install rpm --release-rpm ./forge-release.rpm --no-gpgcheck out/forge`);
  cmd.action(async (distro: string, dir: string | undefined, opts: InstallCliOptions) => {
    const result = await runInstall(distro, dir, opts);
    printResult(result.install, result.target, opts.json === true);
  });
}

type InstallRequest = Omit<DebianInstallOptions, 'root'> | Omit<RpmInstallOptions, 'root'>;

function buildOptions(distro: string, opts: InstallCliOptions, requireSuite = true): InstallRequest {
  const common = {
    ...(opts.arch !== undefined ? { arch: opts.arch } : {}),
    ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
    cache: opts.cache,
    indexMaxAge: parseSeconds(opts.indexMaxAge),
    pygrub: opts.pygrub === true || opts.bootloader === 'pygrub',
    pvgrub: opts.bootloader === 'pvgrub',
    noKernel: opts.kernel === false,
    noSsh: opts.ssh === false,
  };
  if (opts.bootloader !== undefined && opts.bootloader !== 'pygrub' && opts.bootloader !== 'pvgrub') throw new DomuError('USAGE', `--bootloader must be pygrub or pvgrub, not ${opts.bootloader}`);
  if (opts.pygrub && opts.bootloader === 'pvgrub') throw new DomuError('USAGE', '--pygrub conflicts with --bootloader pvgrub: give one');
  if ((DEBIAN_DISTROS as readonly string[]).includes(distro)) {
    const suite = opts.dist ?? opts.suite;
    if (opts.dist !== undefined && opts.suite !== undefined && opts.dist !== opts.suite) throw new DomuError('USAGE', '--dist and --suite disagree; give one');
    if (!suite && requireSuite) throw new DomuError('USAGE', `${distro} needs --dist (the suite), e.g. --dist bookworm`);
    for (const flag of ['releaseRpm', 'releasever', 'packageManager', 'group'] as const) {
      if (opts[flag] !== undefined) throw new DomuError('USAGE', `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is for RPM distributions, not ${distro}`);
    }
    if (opts.repo.length || opts.packages.length) throw new DomuError('USAGE', `--repo and --packages are for RPM distributions; use --include for ${distro}`);
    return {
      ...common,
      distro: distro as 'debian' | 'ubuntu',
      suite: suite ?? '',
      variant: (opts.variant ?? 'important') as DebianVariant,
      include: splitList(opts.include),
      tool: (opts.tool ?? 'auto') as 'auto' | 'debootstrap' | 'mmdebstrap',
      rootCache: opts.rootCache,
      ...(opts.mirror !== undefined ? { mirror: opts.mirror } : {}),
      ...(opts.components !== undefined ? { components: splitList([opts.components]) } : {}),
      ...(opts.keyring !== undefined ? { keyring: opts.keyring } : {}),
    };
  }
  if ((RPM_DISTROS as readonly string[]).includes(distro)) {
    if (opts.dist !== undefined || opts.suite !== undefined) throw new DomuError('USAGE', `--dist is for Debian and Ubuntu; give ${distro} --release-rpm (and --releasever)`);
    if (opts.include.length) throw new DomuError('USAGE', `--include is for Debian and Ubuntu; use --packages for ${distro}`);
    return {
      ...common,
      distro: distro as Exclude<Distro, 'debian' | 'ubuntu'>,
      repos: opts.repo,
      packages: splitList(opts.packages),
      selinux: opts.selinux as SelinuxMode,
      gpgCheck: opts.gpgcheck,
      ...(opts.releaseRpm !== undefined ? { releaseRpm: opts.releaseRpm } : {}),
      ...(opts.group !== undefined ? { group: opts.group } : {}),
      ...(opts.packageManager !== undefined ? { packageManager: opts.packageManager } : {}),
      ...(opts.releasever !== undefined ? { releasever: opts.releasever } : {}),
    };
  }
  throw new DomuError('USAGE', `unknown distribution ${JSON.stringify(distro)}; expected one of ${[...DEBIAN_DISTROS, ...RPM_DISTROS].join(', ')}`);
}

function parseSeconds(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new DomuError('USAGE', `--index-max-age: "${text}" is not a number of seconds`);
  return n;
}

/** The install flags as the spec's source.install (build's flags, SPEC_FLAGS), the site defaults under them. */
function sourceFlags(distro: string, opts: InstallCliOptions): Record<string, unknown> {
  const debian = (DEBIAN_DISTROS as readonly string[]).includes(distro);
  const out: Record<string, unknown> = { install: distro };
  const dist = opts.dist ?? opts.suite;
  if (debian) {
    for (const [k, v] of [['dist', dist], ['mirror', opts.mirror], ['variant', opts.variant], ['tool', opts.tool]] as const) if (v !== undefined) out[k] = v;
    if (opts.include.length) out.include = splitList(opts.include);
  } else {
    for (const [k, v] of [['releaseRpm', opts.releaseRpm], ['group', opts.group], ['releasever', opts.releasever]] as const) if (v !== undefined) out[k] = v;
    if (opts.repo.length) out.repo = opts.repo;
  }
  if (opts.arch !== undefined) out.arch = opts.arch;
  if (opts.kernel === false) out.kernel = false;
  return out;
}

async function runInstall(distro: string, dir: string | undefined, opts: InstallCliOptions): Promise<{ install: InstallResult; target: TargetSummary }> {
  // the flags' own usage errors first (a suite may still come from the site defaults or the Dom0)
  buildOptions(distro, opts, false);
  targetSpecFromOptions(dir, opts);
  const debian = (DEBIAN_DISTROS as readonly string[]).includes(distro);
  const { spec } = commandSpec(dir, opts, sourceFlags(distro, opts), (r) => {
    if (!debian && opts.packages.length) r.set(['source', 'install', 'packages'], splitList(opts.packages), '--packages');
    if (debian && opts.dist === undefined && opts.suite === undefined) applyDom0Suite(r, () => guessDom0Suite());
  });
  // what the site defaults (or the Dom0) filled in, through the same checks as the flags
  const src = spec.source;
  const filled: InstallCliOptions = { ...opts };
  if (src.kind === 'install' && 'dist' in src) {
    filled.dist = src.dist;
    filled.suite = undefined;
    if (src.mirror !== undefined) filled.mirror = src.mirror;
    if (src.variant !== undefined) filled.variant = src.variant;
    if (src.tool !== undefined) filled.tool = src.tool;
    if (src.arch !== undefined) filled.arch = src.arch;
    filled.include = src.include;
  } else if (src.kind === 'install') {
    if (src.releaseRpm !== undefined && filled.releaseRpm === undefined) filled.releaseRpm = src.releaseRpm;
    if (src.group !== undefined && filled.group === undefined) filled.group = src.group;
    if (src.releasever !== undefined && filled.releasever === undefined) filled.releasever = src.releasever;
    if (src.arch !== undefined) filled.arch = src.arch;
    if (filled.repo.length === 0) filled.repo = src.repos;
  }
  const partial = buildOptions(distro, filled);
  const targetSpec = targetSpecOf(spec);
  // bad options and missing tools fail before any image or volume is made
  checkInstallOptions({ ...partial, root: '' } as InstallOptions);
  const what = 'suite' in partial ? `${distro}-${partial.suite}` : distro;
  const logFile = opts.log ?? defaultLogFile(what);
  const controller = new AbortController();
  const line = new ProgressLine(Boolean(process.stderr.isTTY) && opts.json !== true);
  const removeSignals = abortOnSignals(controller, (sig) => {
    line.clear();
    process.stderr.write(`domu-forge: ${sig}: stopping the install and cleaning up (again to quit at once)\n`);
  });
  process.stderr.write(`log: ${logFile}\n`);
  try {
    // build's stages: open the target, install into it, close it
    const run = await runStages(spec, {
      only: ['target/open', 'source/install', 'target/close'],
      signal: controller.signal,
      log: (l) => {
        line.clear();
        if (opts.json !== true) process.stderr.write(`${l}\n`);
      },
      status: (t) => (t.startsWith('target/close') ? line.update(`closing ${describeTarget(targetSpec)}`, true) : undefined),
      inputs: {
        makeParents: false,
        quietStages: true,
        ownInterrupt: true,
        sizeHint: async () => estimateInstallBytes({ ...partial, root: '' } as InstallOptions),
        install: { ...partial, logFile, onProgress: (p: InstallProgress) => line.update(progressText(p)) } as Omit<InstallOptions, 'root'>,
      },
    });
    line.clear();
    if (run.failure !== undefined) {
      const e = run.failure;
      if (controller.signal.aborted && !(isDomuError(e) && e.code === 'INTERRUPTED')) {
        throw new DomuError('INTERRUPTED', 'install was interrupted', { hint: 'run the same command again' });
      }
      throw e;
    }
    return { install: run.ctx.results.install!, target: run.ctx.results.target! };
  } finally {
    line.clear();
    removeSignals();
  }
}

function progressText(p: InstallProgress): string {
  const counts = p.retrieved + p.unpacked + p.configured > 0 ? ` ${p.retrieved} retrieved, ${p.unpacked} unpacked, ${p.configured} configured` : '';
  return `${p.phase}:${counts}${p.line ? `  ${p.line}` : ''}`;
}

function printResult(r: InstallResult, t: TargetSummary, json: boolean): void {
  if (json) {
    printJson({ ok: true, install: r, target: t });
    return;
  }
  const out = [
    `installed ${r.distro} ${r.release} (${r.arch}) with ${r.tool} into ${t.kind} ${t.path}: ${r.packages} packages in ${formatDuration(r.seconds)}`,
    `downloaded ${formatSize(r.downloadedBytes)}, ${formatSize(r.cachedBytes)} from the cache${r.fromRootCache ? ' (unpacked from the root cache)' : ''}`,
  ];
  for (const f of r.written) out.push(`wrote ${f}`);
  for (const f of r.removed) out.push(`removed ${f}`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  out.push(`log: ${r.logFile}`);
  process.stdout.write(`${out.join('\n')}\n`);
}
