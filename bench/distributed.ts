// Fleets through the queue (BullMQ on Redis), two measurements:
//
//  (a) overhead: the same fleet (20 guests by default) built locally (`domu-forge build FLEET`) and
//      through the queue with one worker on this machine (`domu-forge worker` + `domu-forge build
//      FLEET --queue URL`), each from scratch; the queue's extra wall time as a ratio (goal: at most
//      1.05). Needs the queue CLI (`domu-forge worker`); skipped, and said so, when this build has none.
//  (b) drain rate: 500 queued guests whose build is a dry run, drained by 4 workers, all through the
//      CLI: 4 `domu-forge worker` processes (one host each, their own state directories) and the
//      coordinator `domu-forge build FLEET --queue URL --dry-run --json`, which places, signs and
//      queues the fleet (a base and a guest job per guest), and waits for every plan; jobs per second,
//      the coordinator's peak RSS and CPU, the workers' CPU, the load average.
//
// Each run starts its own redis-server on a free loopback port with a temporary directory (no
// persistence) and stops it at the end.
//
//   npm run bench -- distributed [--part a,b] [--guests 20] [--concurrency 4] [--tree-mib 64]
//                                [--runs 1] [--jobs 500] [--workers 4] [--worker-concurrency 2]
//   node dist-bench/bench/distributed.js [same options]
//
// Environment: BENCH_DIR (default /var/tmp/domu-forge-bench) holds the source tree, state and images;
// DOMU_FORGE_CLI names another built CLI (default: this checkout's dist/cli/main.js).

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { benchDir, guestTree } from './guest-tree.js';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** dist-bench/bench -> the checkout */
const REPO = resolve(HERE, '..', '..');
const CLI = process.env.DOMU_FORGE_CLI || join(REPO, 'dist', 'cli', 'main.js');

interface Args {
  parts: Array<'a' | 'b'>;
  guests: number;
  concurrency: number;
  treeMiB: number;
  jobs: number;
  workers: number;
  workerConcurrency: number;
  runs: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { parts: ['a', 'b'], guests: 20, concurrency: 4, treeMiB: 64, jobs: 500, workers: 4, workerConcurrency: 2, runs: 1 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1] ?? '';
    const f = argv[i];
    if (f === '--part') (a.parts = v.split(',') as Args['parts']), i++;
    else if (f === '--guests') (a.guests = Number(v)), i++;
    else if (f === '--concurrency') (a.concurrency = Number(v)), i++;
    else if (f === '--tree-mib') (a.treeMiB = Number(v)), i++;
    else if (f === '--jobs') (a.jobs = Number(v)), i++;
    else if (f === '--workers') (a.workers = Number(v)), i++;
    else if (f === '--worker-concurrency') (a.workerConcurrency = Number(v)), i++;
    else if (f === '--runs') (a.runs = Number(v)), i++;
    else throw new Error(`distributed bench: unknown option ${f}`);
  }
  return a;
}


/** A small Debian-like root (payload of `mib` MiB of random files), made once per size. */
function sourceTree(mib: number): string {
  return guestTree(`distributed-src-${mib}m`, 'cp -a /usr/bin/true /usr/bin/env usr/bin/ && for i in $(seq 1 $(( $2 ))); do head -c 1M /dev/urandom > usr/lib/blob-$i; done', [String(mib)]);
}

function fleetYaml(o: { name: string; src: string; out: string; guests: number; concurrency: number; hosts?: Array<{ name: string; concurrency: number }>; ips: boolean }): string {
  const hostOf = (i: number) => (o.hosts ? `, host: ${o.hosts[i % o.hosts.length]!.name}` : '');
  const list = Array.from({ length: o.guests }, (_, i) => `  - { name: ${o.name}-${String(i + 1).padStart(3, '0')}, ip: ${o.ips ? uniqueIp(i) : 'auto'}${hostOf(i)} }`).join('\n');
  const hosts = o.hosts ? `hosts:\n${o.hosts.map((h) => `  - { name: ${h.name}, concurrency: ${h.concurrency} }`).join('\n')}\n` : '';
  return `fleet: ${o.name}
directory: ${o.out}/images
configDir: ${o.out}/configs
pool: 10.77.0.10-10.77.0.250
concurrency: ${o.concurrency}
method: overlay
${hosts}base:
  target: { size: 512M, fs: ext4 }
  source:
    clone: { root: ${o.src}, defaultExcludes: false, exclude: [/tmp, /proc, /sys, /.complete] }
  fixups: { skip: [kernel-modules] }
  domain: { memory: 256M, pygrub: true, network: { netmask: 16, gateway: 10.77.0.1 } }
guests:
${list}
`;
}

/** Distinct addresses in 10.77.0.0/16 outside the pool, for up to 60k guests (no leasing in the drain test). */
function uniqueIp(i: number): string {
  const n = i + 512;
  return `10.77.${(n >> 8) & 255}.${n & 255}`;
}

// ---- what a stopped bench must not leave behind: its processes and temporary folders

const started = new Set<ChildProcess>();
const tempDirs = new Set<string>();
function track(c: ChildProcess): ChildProcess {
  started.add(c);
  c.once('exit', () => started.delete(c));
  return c;
}
function onSignal(sig: NodeJS.Signals): void {
  for (const c of started) c.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  process.stderr.write(`distributed bench: ${sig}: stopped, its processes and temporary folders removed\n`);
  process.exit(130);
}

// ---- redis-server on a free loopback port

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function ping(port: number): Promise<boolean> {
  return new Promise((res) => {
    const c = connect(port, '127.0.0.1');
    let got = '';
    c.on('connect', () => c.write('PING\r\n'));
    c.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) {
        c.destroy();
        res(got.startsWith('+PONG'));
      }
    });
    c.on('error', () => res(false));
  });
}

interface Redis { url: string; port: number; child: ChildProcess; dir: string; stop(): Promise<void> }

async function startRedis(): Promise<Redis> {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server is not installed (apt-get install -y redis-server)');
  const dir = mkdtempSync(join(tmpdir(), 'baseshare-bench-redis-'));
  tempDirs.add(dir);
  const port = await freePort();
  const child = track(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--maxmemory-policy', 'noeviction', '--logfile', join(dir, 'redis.log')], { stdio: 'ignore' }));
  for (let i = 0; i < 200 && !(await ping(port)); i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${readFileSync(join(dir, 'redis.log'), 'utf8').slice(-500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`, port, child, dir,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };
}

// ---- helpers

function cliHas(args: string[], word: string): boolean {
  const r = spawnSync(process.execPath, [CLI, ...args, '--help'], { encoding: 'utf8' });
  return r.status === 0 && (word === '' || r.stdout.includes(word));
}

function keyFile(dir: string): string {
  const f = join(dir, 'fleet.key');
  writeFileSync(f, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  return f;
}

/** Run a command to its end; wall seconds, and the peak RSS (VmHWM, KiB) sampled from /proc. */
async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, echo = false): Promise<{ seconds: number; status: number | null; stdout: string; stderr: string; peakKiB: number }> {
  const t0 = process.hrtime.bigint();
  const child = track(spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (echo) process.stderr.write(d);
  });
  let peakKiB = 0;
  const sample = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      // it ended
    }
  }, 50);
  const [status] = (await once(child, 'exit')) as [number | null];
  clearInterval(sample);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, status, stdout, stderr, peakKiB };
}

/** Start `domu-forge worker` and wait until it says it is listening. */
async function startCliWorker(o: { url: string; host: string; concurrency: number; key: string; env: NodeJS.ProcessEnv }): Promise<ChildProcess> {
  const child = track(spawn(process.execPath, [CLI, 'worker', '--queue', o.url, '--host', o.host, '--concurrency', String(o.concurrency), '--key', o.key], { env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  const lines = createInterface({ input: child.stderr! });
  const out = createInterface({ input: child.stdout! });
  // the worker's log, each line with the seconds since it started, for a look at where time goes
  const t0 = Date.now();
  const log: string[] = [];
  const keep = (l: string) => log.push(`${((Date.now() - t0) / 1000).toFixed(2).padStart(8)} ${l}`);
  lines.on('line', keep);
  out.on('line', keep);
  child.once('exit', () => writeFileSync(join(benchDir(), `distributed-worker-${o.host}.log`), `${log.join('\n')}\n`));
  await new Promise<void>((res, rej) => {
    const ready = (l: string) => {
      if (/worker for host/i.test(l)) res();
    };
    lines.on('line', ready);
    out.on('line', ready);
    child.once('exit', (c) => rej(new Error(`domu-forge worker exited (${c}) before it was ready`)));
    setTimeout(res, 15_000).unref(); // a worker that does not announce itself: go on after 15 s
  });
  return child;
}

async function stopChildren(children: ChildProcess[]): Promise<void> {
  await Promise.all(children.map(async (c) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
    await once(c, 'exit');
    clearTimeout(t);
  }));
}

// ---- (a) local against the queue, one worker

async function partA(a: Args): Promise<string[]> {
  if (!cliHas(['worker'], '--queue') || !cliHas(['build'], '--queue')) {
    return ['(a) local vs queue: SKIPPED: this build of domu-forge has no `worker` command or no `build --queue` (the queue CLI is not merged yet)'];
  }
  const src = sourceTree(a.treeMiB);
  const redis = await startRedis();
  const children: ChildProcess[] = [];
  const rows: string[] = [];
  try {
    const res: Record<'local' | 'queue', Array<{ seconds: number; failed: number }>> = { local: [], queue: [] };
    // runs alternate which goes first, so that neither always has the warmer caches
    const order = Array.from({ length: a.runs }, (_, i) => (i % 2 === 0 ? (['local', 'queue'] as const) : (['queue', 'local'] as const))).flat();
    for (const how of order) {
      const name = `dist-${how}`;
      const out = join(benchDir(), name);
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out, { recursive: true });
      const env = { DOMU_FORGE_STATE_DIR: join(out, 'state') };
      const file = join(out, 'fleet.yaml');
      writeFileSync(file, fleetYaml({ name, src, out, guests: a.guests, concurrency: a.concurrency, hosts: how === 'queue' ? [{ name: 'bench', concurrency: a.concurrency }] : undefined, ips: false }));
      execFileSync('sync');
      let r;
      if (how === 'local') r = await timed(process.execPath, [CLI, 'build', file, '--json'], env);
      else {
        const key = keyFile(out);
        children.push(await startCliWorker({ url: redis.url, host: 'bench', concurrency: a.concurrency, key, env }));
        r = await timed(process.execPath, [CLI, 'build', file, '--queue', redis.url, '--key', key, '--json'], env);
        await stopChildren(children.splice(0));
        writeFileSync(join(benchDir(), 'distributed-queue-last.log'), r.stderr);
      }
      let failed = a.guests;
      try {
        // the local result's guests carry `status`, the queue's rows `state`
        const j = JSON.parse(r.stdout) as { guests?: Array<{ status?: string; state?: string }> };
        failed = (j.guests ?? []).filter((g) => (g.status ?? g.state) !== 'built').length + Math.max(0, a.guests - (j.guests ?? []).length);
      } catch {
        // no JSON: counted as all failed
      }
      res[how].push({ seconds: r.seconds, failed });
      console.log(`(a) ${how.padEnd(5)} ${a.guests} guests: ${r.seconds.toFixed(1)} s${failed ? `, ${failed} NOT BUILT (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-2).join(' | ')}` : ''}`);
      rmSync(out, { recursive: true, force: true });
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
    const local = median(res.local.map((x) => x.seconds));
    const queue = median(res.queue.map((x) => x.seconds));
    const ratio = queue / local;
    const bad = [...res.local, ...res.queue].some((x) => x.failed > 0);
    rows.push(`(a) ${a.guests}-guest fleet (overlay, ${a.treeMiB} MiB tree, concurrency ${a.concurrency}), from scratch, median of ${a.runs}: local ${local.toFixed(1)} s, queue (1 worker, same machine) ${queue.toFixed(1)} s, ratio ${ratio.toFixed(3)} (goal <= 1.05: ${ratio <= 1.05 ? 'met' : 'missed'})${bad ? '  [SOME GUESTS FAILED: figures not valid]' : ''}`);
    rows.push(`    runs: local ${res.local.map((x) => x.seconds.toFixed(1)).join(', ')} s; queue ${res.queue.map((x) => x.seconds.toFixed(1)).join(', ')} s`);
  } finally {
    await stopChildren(children);
    await redis.stop();
  }
  return rows;
}

// ---- (b) the drain rate

/** A process's CPU seconds so far (user+sys, from /proc/PID/stat), or NaN once it is gone. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

async function partB(a: Args): Promise<string[]> {
  if (!cliHas(['worker'], '--dry-run') || !cliHas(['build'], '--queue')) {
    return ['(b) drain rate: SKIPPED: this build of domu-forge has no queued dry run (`domu-forge worker --help` does not mention --dry-run)'];
  }
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'distributed-bench-drain-'));
  tempDirs.add(dir);
  const children: ChildProcess[] = [];
  try {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'etc'), { recursive: true });
    writeFileSync(join(src, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
    const key = keyFile(dir);
    const hosts = Array.from({ length: a.workers }, (_, i) => ({ name: `bench-w${i + 1}`, concurrency: a.workerConcurrency }));
    const file = join(dir, 'fleet.yaml');
    writeFileSync(file, fleetYaml({ name: 'drain', src, out: join(dir, 'out'), guests: a.jobs, concurrency: a.workerConcurrency, hosts, ips: true }));
    // one state directory per worker (as on separate Dom0s), the coordinator's own
    for (const h of hosts) children.push(await startCliWorker({ url: redis.url, host: h.name, concurrency: h.concurrency, key, env: { DOMU_FORGE_STATE_DIR: join(dir, `state-${h.name}`) } }));
    const cpu0 = children.map((c) => cpuSeconds(c.pid));
    const load0 = loadavg();
    const timeFile = join(dir, 'coordinator.time');
    const r = await timed('/usr/bin/time', ['-o', timeFile, '-f', '%e %U %S %M', process.execPath, CLI, 'build', file, '--queue', redis.url, '--key', key, '--dry-run', '--json'], { DOMU_FORGE_STATE_DIR: join(dir, 'state-coordinator') });
    const load1 = loadavg();
    const workerCpu = children.reduce((n, c, i) => n + (cpuSeconds(c.pid) - cpu0[i]!), 0);
    const [wall, user, sys, maxKiB] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number, number];
    let planned = 0;
    let got = 0;
    try {
      const j = JSON.parse(r.stdout) as { guests?: Array<{ state?: string; result?: { stages?: unknown[] } }> };
      got = j.guests?.length ?? 0;
      planned = (j.guests ?? []).filter((g) => g.state === 'planned' && Array.isArray(g.result?.stages) && g.result.stages.length > 0).length;
    } catch {
      // no JSON: nothing planned
    }
    const written = ['out'].concat(hosts.map((h) => `state-${h.name}`)).filter((d) => existsSync(join(dir, d)) && spawnSync('find', [join(dir, d), '-type', 'f'], { encoding: 'utf8' }).stdout.trim() !== '');
    const failed = a.jobs - planned;
    return [
      `(b) ${a.jobs} queued dry-run guests (${a.jobs * 2} jobs: a base and a guest job each), through the CLI: ${a.workers} \`domu-forge worker\` processes (concurrency ${a.workerConcurrency} each), \`domu-forge build FLEET --queue URL --dry-run --json\`:`,
      `    ${(a.jobs / wall).toFixed(1)} guests/s, ${((a.jobs * 2) / wall).toFixed(1)} jobs/s (${wall.toFixed(2)} s wall, coordinator start to summary); ${failed} not planned${got !== a.jobs ? ` (${got} rows)` : ''}${r.status !== 0 ? ` [coordinator exit ${r.status}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}]` : ''}${written.length ? ` [WROTE FILES in ${written.join(', ')}]` : ''}`,
      `    coordinator: peak RSS ${(maxKiB / 1024).toFixed(0)} MiB, CPU ${(user + sys).toFixed(2)} s (user ${user.toFixed(2)}, sys ${sys.toFixed(2)}); the 4 workers: CPU ${workerCpu.toFixed(2)} s together; load average ${load0.map((x) => x.toFixed(2)).join(' ')} before, ${load1.map((x) => x.toFixed(2)).join(' ')} after`,
    ];
  } finally {
    await stopChildren(children);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

export async function benchDistributed(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const rows: string[] = [];
  if (a.parts.includes('a')) rows.push(...(await partA(a)));
  if (a.parts.includes('b')) rows.push(...(await partB(a)));
  console.log(`\ndistributed benchmark (indicative: a shared 2-core machine), ${new Date().toISOString()}`);
  for (const r of rows) console.log(r);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await benchDistributed(process.argv.slice(2));
