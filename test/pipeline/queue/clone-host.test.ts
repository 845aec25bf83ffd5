// A fleet whose base is a clone of one host's root (source.clone.host), through the queue with the
// real parts: redis-server on the root side of two veth pairs, two "hosts" as network namespaces
// joined by a third veth pair, one `domu-forge worker` in each. h1's root is the clone source: its
// worker (--serve) packs it and serves it; h2's worker sees another tree at the same path (a bind
// mount in its own mount namespace) and must build its base from h1's packed clone, fetched by
// SHA-256. Checked: the guests on h2 carry h1's marker, the tarball in h2's cache is named by its
// SHA-256, both hosts' bases are exact copies of h1's root (rsync -aHAXc) under the same key; a
// queued --dry-run writes nothing on either host and returns each guest's plan; a worker with the
// wrong key refuses the base and builds nothing; a tarball whose bytes do not match its SHA-256 is
// refused on arrival and nothing of it is kept.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeGuestTree } from '../guest-tree.js';
import { rsyncDiff } from '../../helpers/run.js';
import { freePort, until } from '../../helpers/wait.js';

const CLI = resolve(__dirname, '../../../dist/cli/main.js');
const TAG = `dfc${process.pid % 10000}`;
const HOSTS = ['h1', 'h2'] as const;
/** Addresses from the pid, so two runs on one machine do not meet. */
const NET = `10.${200 + (process.pid % 50)}`;
const SERVE = `${NET}.9.1`;

interface Row { guest: string; host: string; state: string; image?: string; error?: string; attempts: number; result?: { stages?: Array<{ id: string; skip?: string }>; configText?: string; config?: string; image?: string; status?: string } }

function sha256File(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}

describe('a clone of one host\'s root, packed there and fetched by the other hosts (root, netns, redis-server, loop, qemu-img)', () => {
  let dir: string;
  let src: string;
  let h2root: string;
  let port: number;
  let redis: ChildProcess | undefined;
  const workers = new Map<string, ChildProcess>();
  const keyFile = () => join(dir, 'fleet.key');
  const ns = (h: string) => `${TAG}-${h}`;
  const rootAddr = (i: number) => `${NET}.${i + 1}.1`;
  const url = (addr = '127.0.0.1') => `redis://forge:pw@${addr}:${port}`;
  const hostDir = (h: string) => join(dir, 'hosts', h);
  const fleetFile = () => join(dir, 'cloned.yaml');
  const loopsUnder = () => execFileSync('losetup', ['-a']).toString().split('\n').filter((l) => l.includes(dir));
  const workerLog = (h: string) => readFileSync(join(hostDir(h), 'worker.log'), 'utf8');

  const startWorker = (h: string, key = keyFile()) => {
    const i = HOSTS.indexOf(h as (typeof HOSTS)[number]);
    const log = openSync(join(hostDir(h), 'worker.log'), 'a');
    const worker = [process.execPath, CLI, 'worker', '--queue', url(rootAddr(i)), '--host', h, '--key', key, '--concurrency', '2', ...(h === 'h1' ? ['--serve', SERVE] : [])];
    // h2 sees its own tree at the clone root's path (a bind mount in its worker's mount namespace)
    const cmd = h === 'h2' ? ['sh', '-c', 'mount --bind "$1" "$2" && shift 2 && exec "$@"', 'sh', h2root, src, ...worker] : worker;
    const w = spawn('ip', ['netns', 'exec', ns(h), ...cmd], {
      stdio: ['ignore', log, log],
      env: { ...process.env, DOMU_FORGE_STATE_DIR: join(hostDir(h), 'state'), TMPDIR: join(hostDir(h), 'tmp'), DOMU_FORGE_QUEUE_LOCK_MS: '8000' },
    });
    workers.set(h, w);
    return w;
  };
  const stopWorker = async (h: string) => {
    const w = workers.get(h)!;
    if (w.exitCode !== null || w.signalCode !== null) return;
    await new Promise<void>((res) => {
      w.once('exit', () => res());
      w.kill('SIGTERM');
    });
  };
  const readyCount = (h: string) => (workerLog(h).match(/worker for host/g) ?? []).length;
  const coordinator = (args: string[]) =>
    spawn(process.execPath, [CLI, ...args], { env: { ...process.env, DOMU_FORGE_STATE_DIR: join(dir, 'coordinator'), DOMU_FORGE_QUEUE_BACKOFF_MS: '300' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const finished = (c: ChildProcess) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
      let stdout = '';
      let stderr = '';
      c.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
      c.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      c.on('close', (status) => res({ status, stdout, stderr }));
    });
  const build = async (extra: string[] = []) => {
    const r = await finished(coordinator(['build', fleetFile(), '--queue', url(), '--key', keyFile(), '--json', ...extra]));
    let out: { ok: boolean; dryRun?: boolean; guests: Row[] };
    try {
      out = JSON.parse(r.stdout) as typeof out;
    } catch {
      throw new Error(`no JSON from the coordinator (exit ${r.status}): ${r.stdout}${r.stderr}`);
    }
    return { ...r, ...out, byName: Object.fromEntries(out.guests.map((g) => [g.guest, g])) };
  };
  const catIn = (image: string, path: string) => execFileSync('debugfs', ['-R', `cat ${path}`, image], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const rawOf = (h: string, name: string) => {
    const raw = join(dir, `${name}.raw`);
    execFileSync('qemu-img', ['convert', '-O', 'raw', join(hostDir(h), 'images', `${name}.qcow2`), raw]);
    return raw;
  };
  const bases = (h: string) => readdirSync(join(hostDir(h), 'state', 'fleet-bases')).filter((f) => f.endsWith('.img'));
  const shared = (h: string) => (existsSync(join(hostDir(h), 'state', 'base-share')) ? readdirSync(join(hostDir(h), 'state', 'base-share')) : []);
  /** Everything under a host's directories (images, configs, state), with sizes and times. */
  const snapshot = (h: string) => execFileSync('find', [join(hostDir(h), 'images'), join(hostDir(h), 'configs'), join(hostDir(h), 'state'), '-printf', '%p %s %T@\n']).toString().split('\n').sort().join('\n');
  /** rsync -aHAXc of the clone root against a base image's tree, mounted read-only. */
  const baseDiff = (image: string) => {
    const mnt = mkdtempSync(join(dir, 'mnt-'));
    execFileSync('mount', ['-o', 'ro,loop,noload', image, mnt]);
    try {
      return rsyncDiff(src, mnt, ['--exclude', '/lost+found', '--exclude', '/tmp', '--exclude', '/proc', '--exclude', '/sys']);
    } finally {
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true });
    }
  };

  const GUESTS = `
  - { name: alba, ip: 10.21.0.11, host: h1 }
  - { name: bute, ip: 10.21.0.12, host: h2 }
  - { name: coll, ip: 10.21.0.13, host: h2 }`;
  const fleetText = (guests: string) => `
fleet: cloned
directory: images
configDir: configs
hosts:
  - { name: h1, concurrency: 2, directory: hosts/h1/images, configDir: hosts/h1/configs }
  - { name: h2, concurrency: 2, directory: hosts/h2/images, configDir: hosts/h2/configs }
base:
  target: { size: 48M, fs: ext4 }
  source:
    clone: { root: ${src}, host: h1, defaultExcludes: false, exclude: [/tmp, /proc, /sys] }
  fixups: { skip: [kernel-modules] }
  domain:
    memory: 128M
    pygrub: true
    network: { netmask: 24, gateway: 10.21.0.1 }
guests:
${guests}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${TAG}-clonehost-`));
    src = join(dir, 'root');
    h2root = join(dir, 'h2-own-root');
    makeGuestTree(src, 1);
    execFileSync('bash', ['-c', `cd ${src}/boot && echo k > vmlinuz-6.1.0-18-amd64 && echo i > initrd.img-6.1.0-18-amd64`]);
    writeFileSync(join(src, 'etc', 'served-by'), 'h1\n');
    // h2's own "root" at the same path: no marker, other bytes
    makeGuestTree(h2root, 1);
    writeFileSync(keyFile(), `${execFileSync('head', ['-c', '48', '/dev/urandom']).toString('base64')}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'wrong.key'), `${execFileSync('head', ['-c', '48', '/dev/urandom']).toString('base64')}\n`, { mode: 0o600 });
    for (const h of HOSTS) for (const d of ['images', 'configs', 'state', 'tmp']) mkdirSync(join(hostDir(h), d), { recursive: true });
    port = await freePort();
    // each host: a namespace with a veth pair to the root namespace (Redis); h1 and h2: a veth pair between them (the base share)
    HOSTS.forEach((h, i) => {
      const a = `${TAG}r${i}`;
      const b = `${TAG}n${i}`;
      execFileSync('ip', ['netns', 'add', ns(h)]);
      execFileSync('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
      execFileSync('ip', ['link', 'set', b, 'netns', ns(h)]);
      execFileSync('ip', ['addr', 'add', `${rootAddr(i)}/30`, 'dev', a]);
      execFileSync('ip', ['link', 'set', a, 'up']);
      execFileSync('ip', ['-n', ns(h), 'addr', 'add', `${NET}.${i + 1}.2/30`, 'dev', b]);
      execFileSync('ip', ['-n', ns(h), 'link', 'set', b, 'up']);
      execFileSync('ip', ['-n', ns(h), 'link', 'set', 'lo', 'up']);
    });
    execFileSync('ip', ['link', 'add', `${TAG}x1`, 'netns', ns('h1'), 'type', 'veth', 'peer', 'name', `${TAG}x2`, 'netns', ns('h2')]);
    execFileSync('ip', ['-n', ns('h1'), 'addr', 'add', `${SERVE}/30`, 'dev', `${TAG}x1`]);
    execFileSync('ip', ['-n', ns('h2'), 'addr', 'add', `${NET}.9.2/30`, 'dev', `${TAG}x2`]);
    execFileSync('ip', ['-n', ns('h1'), 'link', 'set', `${TAG}x1`, 'up']);
    execFileSync('ip', ['-n', ns('h2'), 'link', 'set', `${TAG}x2`, 'up']);
    writeFileSync(join(dir, 'redis.conf'), [`bind 127.0.0.1 ${HOSTS.map((_, i) => rootAddr(i)).join(' ')}`, `port ${port}`, `dir ${dir}`, 'save ""', 'appendonly no', 'daemonize no', 'user default off', 'user forge on >pw ~* &* +@all', ''].join('\n'));
    redis = spawn('redis-server', [join(dir, 'redis.conf')], { stdio: ['ignore', openSync(join(dir, 'redis.log'), 'a'), 'inherit'] });
    await until('redis-server', () => spawnSync('redis-cli', ['-p', String(port), '--user', 'forge', '--pass', 'pw', '--no-auth-warning', 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 20_000);
    for (const h of HOSTS) startWorker(h);
    await until('two workers ready', () => HOSTS.every((h) => existsSync(join(hostDir(h), 'worker.log')) && readyCount(h) === 1), 30_000);
  });

  afterAll(async () => {
    await Promise.all(HOSTS.filter((h) => workers.has(h)).map((h) => stopWorker(h)));
    if (redis && redis.exitCode === null) {
      const r = redis;
      await new Promise<void>((res) => {
        r.once('exit', () => res());
        r.kill('SIGTERM');
      });
    }
    HOSTS.forEach((h, i) => {
      spawnSync('ip', ['link', 'del', `${TAG}r${i}`]);
      spawnSync('ip', ['netns', 'del', ns(h)]);
    });
    for (const l of loopsUnder()) spawnSync('losetup', ['-d', l.split(':')[0]!]);
    if (!process.env.DFQ_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it('h1 packs and serves its root; h2 fetches it by SHA-256 and builds its guests from it, under the same base key', async () => {
    writeFileSync(fleetFile(), fleetText(GUESTS));
    const r = await build();
    expect(r.status, r.stderr).toBe(0);
    for (const g of r.guests) expect(g.state, `${g.guest}: ${g.error}`).toBe('built');
    expect(r.byName.bute!.host).toBe('h2');
    // h2's worker sees its own tree at the clone root's path, without the marker
    expect(existsSync(join(src, 'etc', 'served-by'))).toBe(true);
    expect(existsSync(`/proc/${workers.get('h2')!.pid}/root${src}/etc/served-by`)).toBe(false);
    expect(existsSync(`/proc/${workers.get('h2')!.pid}/root${src}/etc/os-release`)).toBe(true);
    // one packed clone, named by its SHA-256, on h1; the same bytes under the same name in h2's cache
    const packed = shared('h1').filter((f) => f.endsWith('.tar'));
    expect(packed).toHaveLength(1);
    const sha = packed[0]!.slice(0, -4);
    expect(sha256File(join(hostDir('h1'), 'state', 'base-share', packed[0]!))).toBe(sha);
    expect(shared('h2')).toEqual([`${sha}.tar`]);
    expect(sha256File(join(hostDir('h2'), 'state', 'base-share', `${sha}.tar`))).toBe(sha);
    expect(workerLog('h1')).toContain(`packing ${src} for the other hosts`);
    expect(workerLog('h2')).toContain(`fetching h1's packed clone ${sha.slice(0, 12)} from http://${SERVE}:7474`);
    // the same base key on both hosts: the same base name, the same record
    expect(bases('h1')).toHaveLength(1);
    expect(bases('h2')).toEqual(bases('h1'));
    const rec = (h: string) => (JSON.parse(readFileSync(join(hostDir(h), 'state', 'fleet-bases', 'cloned.json'), 'utf8')) as { key: string }).key;
    expect(rec('h2')).toBe(rec('h1'));
    // h1 cloned its root, h2 built from the tarball: both bases are exact copies of h1's root
    expect(baseDiff(join(hostDir('h1'), 'state', 'fleet-bases', bases('h1')[0]!))).toBe('');
    expect(baseDiff(join(hostDir('h2'), 'state', 'fleet-bases', bases('h2')[0]!))).toBe('');
    // every guest, on either host, carries h1's marker and its own identity
    for (const g of r.guests) {
      expect(g.image).toBe(join(hostDir(g.host), 'images', `${g.guest}.qcow2`));
      const raw = rawOf(g.host, g.guest);
      execFileSync('e2fsck', ['-fn', raw], { stdio: 'ignore' });
      expect(catIn(raw, '/etc/served-by')).toBe('h1\n');
      expect(catIn(raw, '/etc/hostname').trim()).toBe(g.guest);
      rmSync(raw);
    }
    expect(loopsUnder()).toEqual([]);
  });

  it('a queued --dry-run writes nothing on either host and returns each guest\'s plan', async () => {
    writeFileSync(fleetFile(), fleetText(`${GUESTS}\n  - { name: eigg, ip: 10.21.0.14, host: h2 }`));
    const before = HOSTS.map(snapshot);
    const r = await build(['--dry-run']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.ok).toBe(true);
    expect(r.dryRun).toBe(true);
    expect(r.guests.map((g) => [g.guest, g.host, g.state])).toEqual([['alba', 'h1', 'planned'], ['bute', 'h2', 'planned'], ['coll', 'h2', 'planned'], ['eigg', 'h2', 'planned']]);
    for (const g of r.guests) {
      const stages = g.result!.stages!;
      const run = stages.filter((s) => !s.skip).map((s) => s.id);
      expect(run).toEqual(expect.arrayContaining(['target/open', 'target/close', 'xen/config', 'inventory']));
      expect(run.some((id) => id.startsWith('fixup/'))).toBe(true);
      expect(stages.find((s) => s.id === 'source/clone')?.skip).toBeTruthy();
      expect(g.result!.config).toBe(join(hostDir(g.host), 'configs', `${g.guest}.cfg`));
      expect(g.result!.configText).toContain(`${g.guest}`);
    }
    expect(HOSTS.map(snapshot)).toEqual(before);
    expect(existsSync(join(hostDir('h2'), 'images', 'eigg.qcow2'))).toBe(false);
    // fleet status still shows the last real build
    const st = spawnSync(process.execPath, [CLI, 'fleet', 'status', fleetFile(), '--queue', url(), '--json'], { encoding: 'utf8', env: { ...process.env, DOMU_FORGE_STATE_DIR: join(dir, 'coordinator') } });
    expect((JSON.parse(st.stdout) as { guests: Row[] }).guests.map((g) => g.state)).toEqual(['built', 'built', 'built']);
    // without --queue, the dry run is planned here (test/pipeline/fleet.test.ts): nothing built
    const local = spawnSync(process.execPath, [CLI, 'build', fleetFile(), '--dry-run'], { encoding: 'utf8', env: { ...process.env, DOMU_FORGE_STATE_DIR: join(dir, 'local-state') } });
    expect(local.status, local.stderr).toBe(0);
    expect(local.stdout).toContain('dry run: 4 of 4 guests would be built; nothing was touched');
    expect(existsSync(join(dir, 'local-state', 'fleet-bases'))).toBe(false);
  });

  it('a fetching host whose worker has the wrong key refuses the base and builds nothing', async () => {
    await stopWorker('h2');
    startWorker('h2', join(dir, 'wrong.key'));
    await until('h2 restarted', () => readyCount('h2') === 2, 30_000);
    const before = snapshot('h2');
    writeFileSync(fleetFile(), fleetText(`${GUESTS}\n  - { name: eigg, ip: 10.21.0.14, host: h2 }`));
    const r = await build(['--attempts', '2']);
    expect(r.status).toBe(4);
    expect(r.byName.alba!.state).toBe('unchanged');
    for (const g of ['bute', 'coll', 'eigg']) {
      expect(r.byName[g]!.state, g).toBe('failed');
      expect(r.byName[g]!.error).toMatch(/^base: refused \(bad-signature\): /);
    }
    expect(workerLog('h2')).toMatch(/REFUSED job cloned\.\w+\.base\.\w+ \(base\): refused \(bad-signature\)/);
    expect(snapshot('h2')).toBe(before);
    expect(existsSync(join(hostDir('h2'), 'images', 'eigg.qcow2'))).toBe(false);
    await stopWorker('h2');
    startWorker('h2');
    await until('h2 restarted with the fleet key', () => readyCount('h2') === 3, 30_000);
  });

  it('a packed clone whose bytes do not match its SHA-256 is refused on arrival, retried, and nothing of it is kept', async () => {
    // h2 as a new host: no base, no cached tarball, no guests
    for (const f of readdirSync(join(hostDir('h2'), 'state', 'fleet-bases'))) rmSync(join(hostDir('h2'), 'state', 'fleet-bases', f));
    rmSync(join(hostDir('h2'), 'state', 'base-share'), { recursive: true, force: true });
    for (const f of readdirSync(join(hostDir('h2'), 'images'))) rmSync(join(hostDir('h2'), 'images', f));
    // h1's packed clone damaged in place (same name, same size): h1 serves what it has
    const tar = join(hostDir('h1'), 'state', 'base-share', shared('h1').find((f) => f.endsWith('.tar'))!);
    const fd = openSync(tar, 'r+');
    writeSync(fd, Buffer.from('X'), 0, 1, 700);
    closeSync(fd);
    writeFileSync(fleetFile(), fleetText(GUESTS));
    const r = await build(['--attempts', '2']);
    expect(r.status).toBe(4);
    for (const g of ['bute', 'coll']) {
      expect(r.byName[g]!.state, g).toBe('failed');
      expect(r.byName[g]!.error).toMatch(/^base: the base failed: fetching base \w+… from [\d.:]+: the bytes received have SHA-256/);
    }
    const tries = workerLog('h2').match(/base \S+: failed \(attempt \d\): the base failed: fetching base \w+… from [\d.:]+: the bytes received have SHA-256 \w+…, not \w+…; refused, nothing kept/g) ?? [];
    // each of h2's two base jobs, twice (--attempts 2)
    expect(tries.length).toBe(4);
    expect(tries.filter((t) => t.includes('(attempt 2)')).length).toBe(2);
    expect(shared('h2')).toEqual([]);
    expect(bases('h2')).toEqual([]);
    expect(readdirSync(join(hostDir('h2'), 'images'))).toEqual([]);
    // h1 packs again once its packed clone is gone; the fleet completes
    rmSync(tar);
    const again = await build();
    expect(again.status, again.stderr).toBe(0);
    for (const g of ['bute', 'coll']) expect(again.byName[g]!.state, g).toBe('built');
    expect(again.byName.alba!.state).toBe('unchanged');
    expect(shared('h2')).toEqual(shared('h1').filter((f) => f.endsWith('.tar')));
  });
});
