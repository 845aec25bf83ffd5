// Every row of issue 14's table side by side with its peer, in one run:
//
//   npm run bench -- compare [--rows usr-warm,usr-cold,small,pack,unpack,verify,build-copy,build-install,fleet]
//                            [--runs N] [--root PATH] [--guests 20] [--out docs]
//
// Each round runs every chosen row's two commands (domu-forge and its peer) once, the rows and the
// two sides in an order that rotates from round to round, so a slow spell of the shared host hits
// both sides alike. Every run writes into a freshly made ext4 on a loop file; before it the disk is
// synced and left to go quiet (and, for a cold row, the page cache is dropped). The commands are the
// shipped CLI (dist/cli/main.js) and the peers' own tools, exactly as printed in the report, so a
// reader can rerun any of them. Beside the two sides, each round times the row's floors (every byte
// read, or written with cat, and every entry made by cp -a --attributes-only, as many streams as
// cores; and a bare Node loop of the same calls): what no tool can go under on this disk. Prints the medians, ratios and floors, and writes PATH/performance-compare.md
// and PATH/compare.svg (default docs/).
//
// The root tree of pack, unpack, verify and the builds is --root, else a Debian bookworm minbase made
// once under BENCH_DIR by `domu-forge install` (needs the Debian archive). build-install and fleet
// need the network or minutes; pick rows with --rows (default: the rows that need no network).

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDir, dropCaches, holdWriteback, makeFreshFs, settle, type FreshFs } from './lib/fresh-fs.js';
import { smallFilesTree, usrTree } from './lib/trees.js';
import { median } from '../src/bench/strategy-bench.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = `node ${join(repo, 'dist', 'cli', 'main.js')}`;
const nodeFloor = `node ${join(repo, 'dist-bench', 'bench', 'lib', 'node-floor.js')}`;
const TAR_META = "--numeric-owner --xattrs --xattrs-include='*' --acls";
const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** One side of a row: a shell command run against a fresh filesystem. */
interface Side {
  name: string;
  cmd: (fs: FreshFs) => string;
  /** Untimed preparation inside the fresh filesystem (before the disk is settled). */
  before?: (fs: FreshFs) => void;
  /** A floor that is a bare Node loop (lib/node-floor.ts): reported on its own, not as the row's floor. */
  node?: boolean;
}

interface Row {
  id: string;
  work: string;
  goal: number;
  cold?: boolean;
  network?: boolean;
  /** A tree to read once before the rounds (a warm row's source). */
  warm?: string;
  /** Fresh filesystem size, GiB. */
  gib: number;
  ours: Side;
  peer: Side;
  /** Checked after each of our runs (untimed): a note for the report, e.g. overlay sizes. */
  check?: (fs: FreshFs) => string | undefined;
  /**
   * Lower bounds of the row's work, timed like the two sides: what the disk and the kernel cost
   * with no tool in between (every byte read, or written as one file; every entry made by
   * `cp -a --attributes-only`). No copier can be faster than the slowest of them.
   */
  floors?: Side[];
}

interface Args { rows: string[]; runs: number; root?: string; guests: number; out: string }

/** Every entry of `src` made again in FS/t, without data, one cp per top-level entry, CORES at once. */
function entriesFloor(src: string): Side {
  return {
    name: `entries: cp -a --attributes-only, ${CORES} at once`,
    cmd: (fs) => `mkdir ${q(`${fs.mountpoint}/t`)} && cd ${q(src)} && find . -mindepth 1 -maxdepth 1 -print0 | xargs -0 -P${CORES} -I{} cp -a --attributes-only {} ${q(`${fs.mountpoint}/t/`)}`,
  };
}

/** The floors of a row that writes the tree `src` into FS/t (see Row.floors). */
function treeFloors(src: string, cold: boolean, node = false): Side[] {
  return [
    ...(node ? [{ name: 'node: a bare loop of the same calls, one thread', node: true, cmd: (fs: FreshFs) => `${nodeFloor} copy ${q(src)} ${q(`${fs.mountpoint}/t`)}` }] : []),
    entriesFloor(src),
    cold
      ? { name: 'data: every file read, 8 readers', cmd: () => `cd ${q(src)} && find . -type f -print0 | xargs -0 -P8 -n1024 cat >/dev/null` }
      : {
        name: `data: every file cat into ${CORES} files, ${CORES} at once`,
        cmd: (fs) => `cd ${q(src)} && find . -type f -print0 | xargs -0 -P${CORES} -n4096 sh -c 'cat "$@" >> ${fs.mountpoint}/all-$$' sh`,
      },
  ];
}

/** The floors run as many streams as the machine has cores, as a copier may. */
const CORES = cpus().length;

const CHEAP = ['usr-warm', 'usr-cold', 'small', 'pack', 'unpack', 'verify', 'build-copy'];
const ALL = [...CHEAP, 'build-install', 'fleet'];

function parseArgs(argv: string[]): Args {
  const a: Args = { rows: CHEAP, runs: 3, guests: 20, out: join(repo, 'docs') };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1] ?? '';
    if (k === '--rows') (a.rows = v === 'all' ? ALL : v.split(',').filter(Boolean)), i++;
    else if (k === '--runs') (a.runs = Number(v)), i++;
    else if (k === '--root') (a.root = v), i++;
    else if (k === '--guests') (a.guests = Number(v)), i++;
    else if (k === '--out') (a.out = v), i++;
    else throw new Error(`compare: unknown option ${k}`);
  }
  for (const r of a.rows) if (!ALL.includes(r)) throw new Error(`compare: unknown row ${r}; known: ${ALL.join(', ')}`);
  return a;
}

/** Run a shell command; returns wall seconds and the peak RSS in MiB (GNU time). */
function timed(cmd: string, env: NodeJS.ProcessEnv): { seconds: number; rssMiB: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'sh', '-c', cmd], { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const lines = r.stderr.trim().split('\n');
  if (r.status !== 0) throw new Error(`${cmd}: exit ${r.status}: ${lines.slice(-6).join(' | ')}`);
  return { seconds, rssMiB: Number(lines[lines.length - 1]) / 1024 };
}

/** A Debian bookworm minbase, made once (the root of pack, unpack, verify and the copy build). */
function debianRoot(): string {
  const dir = join(benchDir(), 'debian-root');
  if (!existsSync(join(dir, '.complete'))) {
    rmSync(dir, { recursive: true, force: true });
    execFileSync('sh', ['-c', `${cli} install debian ${dir} --dist bookworm`], { stdio: 'inherit' });
    writeFileSync(join(dir, '.complete'), '');
  }
  return dir;
}

function duGiB(path: string): number {
  return Number(execFileSync('du', ['-s', '--block-size=1M', path]).toString().split('\t')[0]) / 1024;
}

function entries(path: string): number {
  return Number(execFileSync('sh', ['-c', `find ${q(path)} | wc -l`]).toString().trim());
}

function makeRows(a: Args): { rows: Row[]; trees: string[] } {
  const trees: string[] = [];
  const want = new Set(a.rows);
  const rows: Row[] = [];
  const cloneRow = (id: string, work: string, src: string, goal: number, cold: boolean): Row => ({
    id, work, goal, cold, warm: src, gib: Math.max(8, Math.ceil(duGiB(src) * 3) + 4), floors: treeFloors(src, cold, id === 'small'),
    ours: { name: 'domu-forge clone', cmd: (fs) => `${cli} clone --no-default-excludes --quiet ${q(src)} ${q(`${fs.mountpoint}/t`)} >/dev/null` },
    peer: { name: 'tar pipe', cmd: (fs) => `mkdir ${q(`${fs.mountpoint}/t`)} && tar -C ${q(src)} ${TAR_META} -cf - . | tar -C ${q(`${fs.mountpoint}/t`)} ${TAR_META} -xpf -` },
  });
  if (want.has('usr-warm') || want.has('usr-cold')) {
    const usr = usrTree();
    trees.push(`usr: a copy of this machine's /usr at ${usr} (${duGiB(usr).toFixed(1)} GiB, ${entries(usr)} entries)`);
    if (want.has('usr-warm')) rows.push(cloneRow('usr-warm', '/usr clone, warm', usr, 0.40, false));
    if (want.has('usr-cold')) rows.push(cloneRow('usr-cold', '/usr clone, cold cache', usr, 0.50, true));
  }
  if (want.has('small')) {
    const small = smallFilesTree(100_000, 4096);
    trees.push(`small: 100,000 files of 0-4 KiB in 100 directories at ${small}`);
    rows.push(cloneRow('small', '100,000 files of 0-4 KiB, warm', small, 0.65, false));
  }
  const needsRoot = ['pack', 'unpack', 'verify', 'build-copy', 'fleet'].some((r) => want.has(r));
  if (!needsRoot) return { rows, trees };
  const root = a.root ?? debianRoot();
  const rootGiB = duGiB(root);
  trees.push(`root: ${a.root ? root : `a Debian bookworm minbase installed by domu-forge at ${root}`} (${(rootGiB * 1024).toFixed(0)} MiB, ${entries(root)} entries)`);
  const gib = Math.max(8, Math.ceil(rootGiB * 3) + 4);
  if (want.has('pack')) {
    rows.push({
      id: 'pack', work: 'pack of a root tree, uncompressed', goal: 1.0, gib, warm: root,
      ours: { name: 'domu-forge pack', cmd: (fs) => `${cli} pack --quiet ${q(root)} ${q(`${fs.mountpoint}/root.tar`)} >/dev/null` },
      peer: { name: 'tar -cf (pax, xattrs, acls)', cmd: (fs) => `tar -C ${q(root)} --format=posix ${TAR_META} -cf ${q(`${fs.mountpoint}/root.tar`)} .` },
      floors: [
        { name: 'data: every file cat into one file', cmd: (fs) => `cd ${q(root)} && find . -type f -print0 | xargs -0 cat > ${q(`${fs.mountpoint}/root.tar`)}` },
        { name: 'node: a bare loop of the same calls', node: true, cmd: (fs) => `${nodeFloor} pack ${q(root)} ${q(`${fs.mountpoint}/root.tar`)}` },
      ],
    });
  }
  if (want.has('unpack')) {
    const tarball = join(benchDir(), 'compare-root.tar');
    const stamp = `${tarball}.of`;
    if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== root) {
      execFileSync('sh', ['-c', `tar -C ${q(root)} --format=posix ${TAR_META} -cf ${q(tarball)} .`]);
      writeFileSync(stamp, root);
    }
    rows.push({
      id: 'unpack', work: 'unpack of that tarball into a fresh ext4', goal: 0.8, gib, warm: tarball,
      ours: { name: 'domu-forge unpack --trusted', cmd: (fs) => `${cli} unpack --trusted --quiet ${q(tarball)} ${q(`${fs.mountpoint}/t`)} >/dev/null` },
      peer: { name: 'tar -xpf (same flags)', cmd: (fs) => `mkdir ${q(`${fs.mountpoint}/t`)} && tar -C ${q(`${fs.mountpoint}/t`)} ${TAR_META} -xpf ${q(tarball)}` },
      floors: [
        entriesFloor(root),
        { name: 'data: the tarball cat into one file', cmd: (fs) => `cat ${q(tarball)} > ${q(`${fs.mountpoint}/t.tar`)}` },
        { name: 'node: a bare loop making the same entries', node: true, cmd: (fs) => `${nodeFloor} copy ${q(root)} ${q(`${fs.mountpoint}/t`)}` },
      ],
    });
  }
  if (want.has('verify')) {
    // the clone to verify is made in the fresh filesystem before each run (untimed)
    const before = (fs: FreshFs) => void execFileSync('sh', ['-c', `${cli} clone --no-default-excludes --quiet ${q(root)} ${q(`${fs.mountpoint}/t`)} >/dev/null`]);
    rows.push({
      id: 'verify', work: 'verify of a clone, warm', goal: 0.5, gib, warm: root,
      ours: { name: 'domu-forge verify', before, cmd: (fs) => `${cli} verify --no-default-excludes ${q(root)} ${q(`${fs.mountpoint}/t`)} >/dev/null` },
      peer: { name: 'rsync -aHAXc --dry-run', before, cmd: (fs) => `test -z "$(rsync -aHAXc --numeric-ids --dry-run --itemize-changes ${q(`${root}/`)} ${q(`${fs.mountpoint}/t/`)})"` },
      floors: [{ name: 'data: every file of both trees read, 2 readers', before, cmd: (fs) => `find ${q(root)} ${q(`${fs.mountpoint}/t`)} -type f -print0 | xargs -0 -P2 -n1024 cat >/dev/null` }],
    });
  }
  const guestFlags = '--size 4G --swap 512M --memory 512M --fs ext4 --pygrub';
  const xci = (fs: FreshFs, how: string) =>
    `xen-create-image --hostname=cmpguest --dir=${q(`${fs.mountpoint}/xen`)} --size=4G --swap=512M --memory=512M --fs=ext4 --dist=bookworm --dhcp ` +
    `--pygrub --noboot --nohosts --force --output=${q(`${fs.mountpoint}/xen-cfg`)} ${how} >/dev/null`;
  if (want.has('build-copy')) {
    rows.push({
      id: 'build-copy', work: 'build of a guest by copying a root tree into a 4 GiB image', goal: 0.20, gib: gib + 6, warm: root,
      ours: { name: 'domu-forge build --clone', cmd: (fs) => `DOMU_FORGE_STATE_DIR=${q(`${fs.mountpoint}/state`)} ${cli} build --clone ${q(root)} --no-default-excludes --image ${q(`${fs.mountpoint}/g.img`)} ${guestFlags} --hostname cmpguest --config ${q(`${fs.mountpoint}/g.cfg`)} --dhcp --force >/dev/null` },
      peer: { name: 'xen-create-image --install-method=copy', before: (fs) => mkdirSync(`${fs.mountpoint}/xen-cfg`), cmd: (fs) => xci(fs, `--install-method=copy --install-source=${q(root)}`) },
    });
  }
  if (want.has('build-install')) {
    // empty caches: a state and cache directory of its own for every run (no cached packages or
    // install root); xen-create-image without its .deb cache (--cache=no: it would otherwise take
    // the host's /var/cache/apt/archives)
    rows.push({
      id: 'build-install', work: 'build of a Debian guest into a 4 GiB image, empty caches', goal: 0.40, network: true, gib: 16,
      ours: { name: 'domu-forge build --install debian', cmd: (fs) => `DOMU_FORGE_STATE_DIR=${q(`${fs.mountpoint}/state`)} DOMU_FORGE_CACHE_DIR=${q(`${fs.mountpoint}/cache`)} ${cli} build --install debian --dist bookworm --image ${q(`${fs.mountpoint}/g.img`)} ${guestFlags} --hostname cmpguest --config ${q(`${fs.mountpoint}/g.cfg`)} --dhcp --force >/dev/null` },
      peer: { name: 'xen-create-image --install-method=debootstrap', before: (fs) => mkdirSync(`${fs.mountpoint}/xen-cfg`), cmd: (fs) => xci(fs, '--install-method=debootstrap --cache=no --mirror=http://deb.debian.org/debian') },
    });
  }
  if (want.has('fleet')) {
    const fleetFile = (fs: FreshFs) => {
      const guests = Array.from({ length: a.guests }, (_, i) => `  - { name: g${i + 1} }`).join('\n');
      const file = `${fs.mountpoint}/fleet.yaml`;
      writeFileSync(file, `fleet: cmp\ndirectory: ${fs.mountpoint}/fleet\nconfigDir: ${fs.mountpoint}/fleet-cfg\nbase:\n  target:\n    size: 1G\n    fs: ext4\n  source:\n    clone:\n      root: ${root}\n      defaultExcludes: false\n  domain:\n    memory: 512M\n    pygrub: true\n    network:\n      dhcp: true\nguests:\n${guests}\n`);
      return file;
    };
    rows.push({
      id: 'fleet', work: `${a.guests} fleet guests from one 1 GiB base (qcow2 overlays)`, goal: 1.5, gib: 16,
      ours: { name: `domu-forge build fleet (${a.guests} guests)`, before: (fs) => void fleetFile(fs), cmd: (fs) => `DOMU_FORGE_STATE_DIR=${q(`${fs.mountpoint}/state`)} ${cli} build ${q(`${fs.mountpoint}/fleet.yaml`)} >/dev/null` },
      peer: { name: 'one guest\'s build (domu-forge build --clone, 1 GiB)', cmd: (fs) => `DOMU_FORGE_STATE_DIR=${q(`${fs.mountpoint}/state`)} ${cli} build --clone ${q(root)} --no-default-excludes --image ${q(`${fs.mountpoint}/g.img`)} --size 1G --fs ext4 --memory 512M --hostname cmpguest --config ${q(`${fs.mountpoint}/g.cfg`)} --dhcp --pygrub --force >/dev/null` },
      check: (fs) => {
        // each overlay only its own changes: the largest overlay's allocated bytes
        const sizes = execFileSync('sh', ['-c', `du -B1 ${q(`${fs.mountpoint}/fleet`)}/*.qcow2 | cut -f1`]).toString().trim().split('\n').map(Number);
        return `largest overlay ${(Math.max(...sizes) / 2 ** 20).toFixed(1)} MiB allocated`;
      },
    });
  }
  return { rows, trees };
}

interface Outcome { row: Row; ours: number[]; peer: number[]; floors: number[][]; rss: number; peerRss: number; notes: string[] }

export async function benchCompare(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  const started = new Date();
  const load = loadavg();
  const { rows, trees } = makeRows(a);
  const out = new Map<string, Outcome>(rows.map((r) => [r.id, { row: r, ours: [], peer: [], floors: (r.floors ?? []).map(() => []), rss: 0, peerRss: 0, notes: [] }]));
  const env = { ...process.env, DOMU_FORGE_STATE_DIR: join(benchDir(), 'compare-state') };
  const restore = holdWriteback();
  // A warm row is primed before its first run, and again after every cold row's drop_caches
  // (without that, the side that ran first after a cold row read its source from the disk): the
  // row's peer runs once, untimed, into a fresh filesystem of its own. Reading the tree (twice, with
  // tar or cat) was not enough: the first copy after such a read took 3 times the system time of
  // the next ones here (/usr: 15.6 s, 21 s of it system time, then 5.4 and 5.9 s).
  const warmNow = new Set<string>();
  const warm = (r: Row) => {
    const t = r.warm!;
    if (warmNow.has(t)) return;
    const fs = makeFreshFs(r.gib, 'ext4');
    try {
      r.peer.before?.(fs);
      timed(r.peer.cmd(fs), env);
    } finally {
      fs.dispose();
    }
    warmNow.add(t);
  };
  const runOne = (r: Row, side: 'ours' | 'peer' | number) => {
    const s = typeof side === 'number' ? r.floors![side]! : r[side];
    if (!r.cold && r.warm) warm(r);
    const fs = makeFreshFs(r.gib, 'ext4');
    try {
      s.before?.(fs);
      settle();
      if (r.cold) {
        dropCaches();
        warmNow.clear();
      }
      const t = timed(s.cmd(fs), env);
      const o = out.get(r.id)!;
      if (typeof side === 'number') o.floors[side]!.push(t.seconds);
      else o[side].push(t.seconds);
      if (side === 'ours') o.rss = Math.max(o.rss, t.rssMiB);
      else if (side === 'peer') o.peerRss = Math.max(o.peerRss, t.rssMiB);
      if (side === 'ours' && r.check) {
        const note = r.check(fs);
        if (note) o.notes.push(note);
      }
      process.stderr.write(`${r.id}: ${s.name} ${t.seconds.toFixed(2)} s, ${t.rssMiB.toFixed(0)} MiB\n`);
    } finally {
      fs.dispose();
    }
  };
  try {
    for (let round = 0; round < a.runs; round++) {
      process.stderr.write(`round ${round + 1}/${a.runs} (load ${loadavg().map((x) => x.toFixed(2)).join(' ')})\n`);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[(i + round) % rows.length]!;
        const order: Array<'ours' | 'peer'> = round % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours'];
        for (const side of order) runOne(r, side);
        (r.floors ?? []).forEach((_, k) => runOne(r, k));
      }
    }
  } finally {
    restore();
  }
  const loadAfter = loadavg();
  const results = [...out.values()];
  const md = renderMarkdown(results, { argv, started, load, loadAfter, trees, runs: a.runs });
  console.log(md);
  mkdirSync(a.out, { recursive: true });
  writeFileSync(join(a.out, 'performance-compare.md'), md);
  writeFileSync(join(a.out, 'compare.svg'), renderCompareSvg(results, a.runs));
  process.stderr.write(`wrote ${join(a.out, 'performance-compare.md')} and ${join(a.out, 'compare.svg')}\n`);
}

const ratio = (o: Outcome) => median(o.ours) / median(o.peer);
/** The ratio of the two sides' fastest runs: the runs least disturbed by whatever else the host did. */
const bestRatio = (o: Outcome) => Math.min(...o.ours) / Math.min(...o.peer);
/** The row's floor: the slowest of its lower bounds (each is a part of the work no tool can skip). */
const floorOf = (o: Outcome): number | undefined => {
  const physical = o.floors.filter((_, k) => !o.row.floors![k]!.node).map((f) => median(f));
  return physical.length ? Math.max(...physical) : undefined;
};
const nodeFloorOf = (o: Outcome): number | undefined => {
  const k = (o.row.floors ?? []).findIndex((f) => f.node);
  return k < 0 ? undefined : median(o.floors[k]!);
};

function renderMarkdown(results: Outcome[], m: { argv: string[]; started: Date; load: number[]; loadAfter: number[]; trees: string[]; runs: number }): string {
  const lines = [
    '# domu-forge against its peers',
    '',
    `Made by \`npm run bench -- compare ${m.argv.join(' ')}\` on ${m.started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
      `${m.runs} interleaved round(s), a fresh ext4 on a loop file for every run, the disk synced and left quiet before each. ` +
      `Load average at the start ${m.load.map((x) => x.toFixed(2)).join(' ')}, at the end ${m.loadAfter.map((x) => x.toFixed(2)).join(' ')} ` +
      '(on a shared machine absolute times are noisy; the ratios come from runs side by side).',
    '',
    '![ratios](compare.svg)',
    '',
    '| work | domu-forge | peer | domu-forge median | peer median | ratio | goal | met | ratio of the fastest runs | floor | floor / peer | Node floor / peer | peak RSS (ours) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const o of results) {
    const r = ratio(o);
    const f = floorOf(o);
    const nf = nodeFloorOf(o);
    const floor = (f === undefined ? '| - | - ' : `| ${f.toFixed(2)} s | ${(f / median(o.peer)).toFixed(2)} `) +
      (nf === undefined ? '| - ' : `| ${(nf / median(o.peer)).toFixed(2)} `);
    lines.push(`| ${o.row.work} | ${o.row.ours.name} | ${o.row.peer.name} | ${median(o.ours).toFixed(2)} s | ${median(o.peer).toFixed(2)} s | **${r.toFixed(2)}** | <= ${o.row.goal.toFixed(2)} | ${r <= o.row.goal ? 'yes' : 'no'} | ${bestRatio(o).toFixed(2)} ${floor}| ${o.rss.toFixed(0)} MiB |`);
  }
  lines.push(
    '',
    'The floor is the slowest of a row\'s lower bounds, timed in the same rounds on the same fresh filesystems: ' +
      'every byte of the tree read (or cat into one file a stream), and every entry made by `cp -a --attributes-only` ' +
      '(no data), as many streams at once as the machine has cores. floor / peer is the best ratio a copier could reach on this machine if it did nothing but that work. ' +
      'The Node floor is a bare loop in one Node process making the same system calls with nothing else ' +
      '(bench/lib/node-floor.ts: no parsing, checks or metadata): what the runtime alone costs for the work.',
    '', 'Every run (seconds):', '',
  );
  for (const o of results) {
    const floors = (o.row.floors ?? []).map((f, k) => `; ${f.name} ${o.floors[k]!.map((s) => s.toFixed(2)).join(', ')}`).join('');
    lines.push(`- ${o.row.id}: domu-forge ${o.ours.map((s) => s.toFixed(2)).join(', ')}; peer ${o.peer.map((s) => s.toFixed(2)).join(', ')}${floors}${o.notes.length ? `; ${o.notes.join('; ')}` : ''}`);
  }
  lines.push('', 'Trees:', '', ...m.trees.map((t) => `- ${t}`), '', 'Commands (FS is the fresh filesystem\'s mount point):', '');
  const fake = { mountpoint: 'FS', dispose: () => undefined };
  for (const o of results) {
    lines.push(`- ${o.row.id}${o.row.cold ? ' (page cache dropped first)' : ''}:`, `  - \`${o.row.ours.cmd(fake)}\``, `  - \`${o.row.peer.cmd(fake)}\``);
    for (const f of o.row.floors ?? []) lines.push(`  - floor, ${f.name}: \`${f.cmd(fake)}\``);
  }
  return `${lines.join('\n')}\n`;
}

/** One bar per row: domu-forge's time over its peer's, with the goal marked; shorter is better. */
export function renderCompareSvg(results: Outcome[], runs: number): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const rowH = 30;
  const left = 330;
  const barW = 420;
  const top = 50;
  const width = left + barW + 120;
  const height = top + results.length * rowH + 44;
  const max = Math.max(1.2, ...results.map((o) => Math.max(ratio(o), o.row.goal)));
  const x = (v: number) => left + (v / max) * barW;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    '<rect width="100%" height="100%" fill="#ffffff"/>',
    '<text x="12" y="22" font-size="15" font-weight="bold">domu-forge time / peer time (median)</text>',
    `<text x="12" y="40" fill="#555">${esc(`${runs} interleaved round(s), fresh ext4 per run; black tick: the goal; grey dashes: the floor; below 1 is faster than the peer`)}</text>`,
  ];
  results.forEach((o, i) => {
    const y = top + i * rowH;
    const r = ratio(o);
    const colour = r <= o.row.goal ? '#1b7f3b' : r <= 1 ? '#c98a12' : '#b33a3a';
    parts.push(
      `<text x="${left - 8}" y="${y + 18}" text-anchor="end">${esc(`${o.row.work} (vs ${o.row.peer.name})`.slice(0, 52))}</text>`,
      `<rect x="${left}" y="${y + 5}" width="${(x(r) - left).toFixed(1)}" height="${rowH - 12}" fill="${colour}"/>`,
      `<line x1="${x(o.row.goal).toFixed(1)}" x2="${x(o.row.goal).toFixed(1)}" y1="${y + 2}" y2="${y + rowH - 4}" stroke="#000" stroke-width="2"/>`,
      ...(floorOf(o) === undefined ? [] : [`<line x1="${x(floorOf(o)! / median(o.peer)).toFixed(1)}" x2="${x(floorOf(o)! / median(o.peer)).toFixed(1)}" y1="${y + 2}" y2="${y + rowH - 4}" stroke="#777" stroke-width="2" stroke-dasharray="3 2"/>`]),
      `<text x="${(Math.max(x(r), x(o.row.goal)) + 6).toFixed(1)}" y="${y + 18}">${esc(`${r.toFixed(2)} (goal ${o.row.goal.toFixed(2)})`)}</text>`,
    );
  });
  const axisY = top + results.length * rowH + 6;
  parts.push(`<line x1="${left}" x2="${left + barW}" y1="${axisY}" y2="${axisY}" stroke="#999"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    parts.push(`<text x="${x(v).toFixed(1)}" y="${axisY + 16}" text-anchor="middle" fill="#555">${v.toFixed(2)}</text>`);
  }
  parts.push(`<line x1="${x(1).toFixed(1)}" x2="${x(1).toFixed(1)}" y1="${top}" y2="${axisY}" stroke="#999" stroke-dasharray="4 3"/>`, '</svg>');
  return `${parts.join('\n')}\n`;
}
