// A fleet over three "hosts" through the queue, with the real parts: redis-server (ACL user,
// appendonly) listening on the root side of three veth pairs, and one `domu-forge worker` in each of
// three network namespaces, each host with its own image directory and state. Checked: placement by
// capacity and labels, every guest's disk in its host's directory with its own identity, reruns,
// a worker SIGKILLed mid-guest and restarted, redis-server restarted mid-fleet, and jobs pushed
// straight into Redis unsigned, tampered, for another host, or with an invalid spec: refused, with
// nothing changed on the host.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { makeGuestTree } from '../guest-tree.js';
import { redisClient } from '../../../src/pipeline/queue/jobs.js';
import { signJob } from '../../../src/pipeline/queue/sign.js';
import { freePort, until } from '../../helpers/wait.js';

const CLI = resolve(__dirname, '../../../dist/cli/main.js');
const TAG = `dfq${process.pid % 10000}`;
const HOSTS = ['h1', 'h2', 'h3'] as const;

interface Row { guest: string; host: string; state: string; ip?: string; image?: string; error?: string; attempts: number }

describe('fleets through the queue: three hosts as network namespaces (root, netns, redis-server, loop, qemu-img)', () => {
  let dir: string;
  let src: string;
  let port: number;
  let redis: ChildProcess | undefined;
  const workers = new Map<string, ChildProcess>();
  const keyFile = () => join(dir, 'fleet.key');
  const url = (addr = '127.0.0.1') => `redis://forge:${encodeURIComponent('s3cret/pw')}@${addr}:${port}`;
  const ns = (h: string) => `${TAG}-${h}`;
  const rootAddr = (i: number) => `10.247.${i + 1}.1`;
  const hostDir = (h: string) => join(dir, 'hosts', h);
  const fleetFile = () => join(dir, 'thanes.yaml');
  const loopsUnder = () => execFileSync('losetup', ['-a']).toString().split('\n').filter((l) => l.includes(dir));

  const startRedis = async () => {
    redis = spawn('redis-server', [join(dir, 'redis.conf')], { stdio: ['ignore', openSync(join(dir, 'redis.log'), 'a'), 'inherit'] });
    await until('redis-server', () => spawnSync('redis-cli', ['-p', String(port), '--user', 'forge', '--pass', 's3cret/pw', '--no-auth-warning', 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 20_000);
  };
  const stopRedis = async () => {
    const r = redis;
    if (!r || r.exitCode !== null) return;
    await new Promise<void>((res) => {
      r.once('exit', () => res());
      r.kill('SIGTERM');
    });
    redis = undefined;
  };
  const startWorker = (h: string) => {
    const i = HOSTS.indexOf(h as (typeof HOSTS)[number]);
    const log = openSync(join(hostDir(h), 'worker.log'), 'a');
    const w = spawn('ip', ['netns', 'exec', ns(h), process.execPath, CLI, 'worker', '--queue', url(rootAddr(i)), '--host', h, '--key', keyFile(), '--concurrency', '2'], {
      stdio: ['ignore', log, log],
      env: { ...process.env, DOMU_FORGE_STATE_DIR: join(hostDir(h), 'state'), TMPDIR: join(hostDir(h), 'tmp'), DOMU_FORGE_QUEUE_LOCK_MS: '8000' },
    });
    workers.set(h, w);
    return w;
  };
  const workerLog = (h: string) => readFileSync(join(hostDir(h), 'worker.log'), 'utf8');
  /** The coordinator, as an admin runs it (its own state directory: placements and address leases). */
  const coordinator = (args: string[]) =>
    spawn(process.execPath, [CLI, ...args], { env: { ...process.env, DOMU_FORGE_STATE_DIR: join(dir, 'coordinator'), DOMU_FORGE_QUEUE_BACKOFF_MS: '500' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const finished = (c: ChildProcess) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((res) => {
      let stdout = '';
      let stderr = '';
      c.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
      c.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      c.on('close', (status) => res({ status, stdout, stderr }));
    });
  const build = async () => {
    const r = await finished(coordinator(['build', fleetFile(), '--queue', url(), '--key', keyFile(), '--json']));
    const out = JSON.parse(r.stdout) as { ok: boolean; placements: Array<{ guest: string; host: string; reason: string }>; guests: Row[] };
    return { ...r, ...out, byName: Object.fromEntries(out.guests.map((g) => [g.guest, g])) };
  };
  const catIn = (image: string, path: string) => execFileSync('debugfs', ['-R', `cat ${path}`, image], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const rawOf = (h: string, name: string) => {
    const raw = join(dir, `${name}.raw`);
    execFileSync('qemu-img', ['convert', '-O', 'raw', join(hostDir(h), 'images', `${name}.qcow2`), raw]);
    return raw;
  };
  /** Everything under a host's directories (images, configs, state), with sizes and times: a refused job must change none of it. */
  const snapshot = (h: string) => execFileSync('find', [join(hostDir(h), 'images'), join(hostDir(h), 'configs'), join(hostDir(h), 'state'), '-printf', '%p %s %T@\n']).toString().split('\n').sort().join('\n');

  let GUESTS = `
  - { name: cawdor, ip: auto }
  - { name: glamis, ip: auto, mac: "00:16:3e:10:00:02" }
  - { name: fife, ip: 10.20.0.50, host: h2 }
  - { name: lochaber, ip: auto, requires: { zone: b } }
  - { name: menteith, ip: auto, hostname: menteith.scotland.example }
  - { name: ross, ip: auto }
  - { name: angus, ip: auto }`;
  const fleetText = (guests: string) => `
fleet: thanes
directory: images
configDir: configs
pool: 10.20.0.10-10.20.0.40
hosts:
  - { name: h1, concurrency: 2, directory: hosts/h1/images, configDir: hosts/h1/configs }
  - { name: h2, concurrency: 1, directory: hosts/h2/images, configDir: hosts/h2/configs }
  - { name: h3, concurrency: 1, directory: hosts/h3/images, configDir: hosts/h3/configs, labels: { zone: b } }
base:
  target: { size: 48M, fs: ext4 }
  source:
    clone: { root: ${src}, defaultExcludes: false, exclude: [/tmp, /proc, /sys] }
  fixups: { skip: [kernel-modules] }
  roles: [${join(dir, 'slow-role.sh')}]
  domain:
    memory: 128M
    pygrub: true
    network: { netmask: 24, gateway: 10.20.0.1 }
guests:
${guests}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${TAG}-queue-`));
    src = join(dir, 'guest');
    makeGuestTree(src, 2);
    execFileSync('bash', ['-c', `cd ${src}/boot && echo k > vmlinuz-6.1.0-18-amd64 && echo i > initrd.img-6.1.0-18-amd64`]);
    // a role that sleeps when the test asks it to (a flag file per guest), so a guest can be caught mid-build
    writeFileSync(join(dir, 'slow-role.sh'), `#!/bin/sh\nif [ -e ${dir}/fail-$DOMU_FORGE_NAME ]; then echo "asked to fail" >&2; exit 3; fi\nif [ -e ${dir}/slow-$DOMU_FORGE_NAME ]; then sleep 60 & echo $! > ${dir}/.started-$DOMU_FORGE_NAME && mv ${dir}/.started-$DOMU_FORGE_NAME ${dir}/started-$DOMU_FORGE_NAME; wait $!; fi\nexit 0\n`, { mode: 0o755 });
    writeFileSync(keyFile(), `${execFileSync('head', ['-c', '48', '/dev/urandom']).toString('base64')}\n`, { mode: 0o600 });
    for (const h of HOSTS) for (const d of ['images', 'configs', 'state', 'tmp']) mkdirSync(join(hostDir(h), d), { recursive: true });
    port = await freePort();
    // three hosts: a network namespace each, a veth pair to the root namespace where Redis listens
    HOSTS.forEach((h, i) => {
      const a = `${TAG}r${i}`;
      const b = `${TAG}n${i}`;
      execFileSync('ip', ['netns', 'add', ns(h)]);
      execFileSync('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
      execFileSync('ip', ['link', 'set', b, 'netns', ns(h)]);
      execFileSync('ip', ['addr', 'add', `${rootAddr(i)}/30`, 'dev', a]);
      execFileSync('ip', ['link', 'set', a, 'up']);
      execFileSync('ip', ['-n', ns(h), 'addr', 'add', `10.247.${i + 1}.2/30`, 'dev', b]);
      execFileSync('ip', ['-n', ns(h), 'link', 'set', b, 'up']);
      execFileSync('ip', ['-n', ns(h), 'link', 'set', 'lo', 'up']);
    });
    // Redis as the README runs it: an ACL user with a password, the default user off, private addresses, appendonly
    writeFileSync(join(dir, 'redis.conf'), [
      `bind 127.0.0.1 ${HOSTS.map((_, i) => rootAddr(i)).join(' ')}`,
      `port ${port}`,
      `dir ${dir}`,
      'appendonly yes',
      'save ""',
      'daemonize no',
      // not "user default off": Redis 7.0 replays the AOF as the default user, and a default user
      // without rights makes it drop every MULTI/EXEC on restart (docs/fleets.md says so too)
      `user default on >${execFileSync('head', ['-c', '24', '/dev/urandom']).toString('hex')} ~* &* +@all`,
      'user forge on >s3cret/pw ~* &* +@all',
      '',
    ].join('\n'));
    await startRedis();
    for (const h of HOSTS) startWorker(h);
    await until('three workers ready', () => HOSTS.every((h) => existsSync(join(hostDir(h), 'worker.log')) && workerLog(h).includes('worker for host')), 30_000);
  });

  /**
   * The pid of a guest's slow role (its `sleep`), as the role wrote it. Never 0 or garbage: a
   * process.kill(0) would signal this test's whole process group, CI's shell included.
   */
  const rolePid = (guest: string): number => {
    const text = readFileSync(join(dir, `started-${guest}`), 'utf8');
    if (!/^[1-9]\d*\n$/.test(text) || Number(text) <= 1) throw new Error(`started-${guest} holds no pid: ${JSON.stringify(text)}`);
    return Number(text);
  };

  afterAll(async () => {
    await Promise.all([...workers.values()].map((w) => new Promise<void>((res) => {
      if (w.exitCode !== null || w.signalCode !== null) return res();
      w.once('exit', () => res());
      w.kill('SIGTERM');
    })));
    await stopRedis();
    for (const f of readdirSync(dir).filter((n) => n.startsWith('started-'))) {
      try {
        process.kill(rolePid(f.slice('started-'.length)), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    HOSTS.forEach((h, i) => {
      spawnSync('ip', ['link', 'del', `${TAG}r${i}`]);
      spawnSync('ip', ['netns', 'del', ns(h)]);
    });
    for (const l of loopsUnder()) spawnSync('losetup', ['-d', l.split(':')[0]!]);
    if (!process.env.DFQ_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it('places by capacity and labels, builds seven guests on three hosts, each disk in its host\'s directory with its own identity', async () => {
    writeFileSync(fleetFile(), fleetText(GUESTS));
    const r = await build();
    expect(r.status, r.stderr).toBe(0);
    // fife names h2; lochaber needs zone=b (only h3); the rest go to the least loaded by concurrency
    expect(Object.fromEntries(r.placements.map((p) => [p.guest, p.host]))).toEqual({ cawdor: 'h1', glamis: 'h3', fife: 'h2', lochaber: 'h3', menteith: 'h1', ross: 'h1', angus: 'h2' });
    for (const g of r.guests) expect(g.state, `${g.guest}: ${g.error}`).toBe('built');
    const ips = new Set<string>();
    const macs = new Set<string>();
    for (const g of r.guests) {
      const disk = join(hostDir(g.host), 'images', `${g.guest}.qcow2`);
      expect(g.image).toBe(disk);
      // only this host has it
      for (const other of HOSTS.filter((x) => x !== g.host)) expect(existsSync(join(hostDir(other), 'images', `${g.guest}.qcow2`))).toBe(false);
      // its base is this host's own cached base
      expect(JSON.parse(execFileSync('qemu-img', ['info', '--output=json', disk]).toString())['backing-filename']).toContain(join(hostDir(g.host), 'state', 'fleet-bases'));
      const raw = rawOf(g.host, g.guest);
      execFileSync('e2fsck', ['-fn', raw], { stdio: 'ignore' });
      expect(catIn(raw, '/etc/hostname').trim()).toBe(g.guest === 'menteith' ? 'menteith.scotland.example' : g.guest);
      expect(catIn(raw, '/etc/machine-id').trim()).not.toBe('0123456789abcdef0123456789abcdef');
      const cfg = readFileSync(join(hostDir(g.host), 'configs', `${g.guest}.cfg`), 'utf8');
      const mac = /mac=([0-9a-f:]+)/.exec(cfg)![1]!;
      const ip = /ip=([0-9.]+)/.exec(cfg)?.[1] ?? '';
      expect(ip).toBe(g.ip);
      expect(catIn(raw, '/etc/network/interfaces')).toContain(ip);
      ips.add(ip);
      macs.add(mac);
      rmSync(raw);
    }
    expect(ips.size).toBe(7);
    expect(macs.size).toBe(7);
    expect(macs.has('00:16:3e:10:00:02')).toBe(true);
    expect(r.byName.fife!.ip).toBe('10.20.0.50');
    // every host built its base once; the list on each host names its own guests only
    for (const h of HOSTS) {
      expect(readdirSync(join(hostDir(h), 'state', 'fleet-bases')).filter((f) => f.endsWith('.img')).length).toBe(1);
      expect((workerLog(h).match(/base: building/g) ?? []).length).toBe(1);
      const listed = JSON.parse(execFileSync(process.execPath, [CLI, 'list', '--json'], { env: { ...process.env, DOMU_FORGE_STATE_DIR: join(hostDir(h), 'state') } }).toString()) as { guests: Array<{ name: string }> };
      expect(listed.guests.map((g) => g.name).sort()).toEqual(r.guests.filter((g) => g.host === h).map((g) => g.guest).sort());
    }
    expect(loopsUnder()).toEqual([]);
  });

  it('a rerun changes nothing; a changed guest is the only one built again, on the same host', async () => {
    // --detach returns once queued; fleet status shows the rerun later
    const env = { ...process.env, DOMU_FORGE_STATE_DIR: join(dir, 'coordinator') };
    const detached = spawnSync(process.execPath, [CLI, 'build', fleetFile(), '--queue', url(), '--key', keyFile(), '--detach'], { encoding: 'utf8', env });
    expect(detached.status, detached.stderr).toBe(0);
    expect(detached.stdout).toMatch(/^placement:\n {2}h1 \(concurrency 2\): 3 guests\n {4}cawdor \(stays with its disk\)/);
    expect(detached.stdout).toContain('queued 7 guests of fleet thanes');
    let states: string[] = [];
    await until('the detached rerun', () => {
      const st = spawnSync(process.execPath, [CLI, 'fleet', 'status', fleetFile(), '--queue', url(), '--json'], { encoding: 'utf8', env });
      states = (JSON.parse(st.stdout) as { guests: Row[] }).guests.map((g) => g.state);
      return states.every((x) => x === 'unchanged' || x === 'built' || x === 'failed');
    });
    expect(states).toEqual(Array(7).fill('unchanged'));
    // list on the coordinator: every guest with its host
    const listed = JSON.parse(execFileSync(process.execPath, [CLI, 'list', '--json'], { env }).toString()) as { queued: Array<{ guest: string; host: string }> };
    expect(Object.fromEntries(listed.queued.map((q) => [q.guest, q.host]))).toMatchObject({ cawdor: 'h1', fife: 'h2', lochaber: 'h3' });
    GUESTS = GUESTS.replace('{ name: ross, ip: auto }', '{ name: ross, ip: auto, memory: 192M }');
    writeFileSync(fleetFile(), fleetText(GUESTS));
    const r = await build();
    expect(Object.fromEntries(r.guests.map((g) => [g.guest, g.state]))).toEqual({ cawdor: 'unchanged', glamis: 'unchanged', fife: 'unchanged', lochaber: 'unchanged', menteith: 'unchanged', ross: 'built', angus: 'unchanged' });
    expect(r.byName.ross!.host).toBe('h1');
    expect(readFileSync(join(hostDir('h1'), 'configs', 'ross.cfg'), 'utf8')).toMatch(/memory\s+= 192/);
    // fleet status shows the same later
    const st = spawnSync(process.execPath, [CLI, 'fleet', 'status', fleetFile(), '--queue', url()], { encoding: 'utf8', env: { ...process.env, DOMU_FORGE_STATE_DIR: join(dir, 'coordinator') } });
    expect(st.status).toBe(0);
    expect(st.stdout).toMatch(/ross\s+h1\s+built/);
  });

  it('a worker killed with SIGKILL mid-guest: restarted, it removes the half-made guest and the fleet completes', async () => {
    writeFileSync(fleetFile(), fleetText(`${GUESTS}\n  - { name: banquo, ip: auto, host: h2 }`));
    writeFileSync(join(dir, 'slow-banquo'), '');
    const c = coordinator(['build', fleetFile(), '--queue', url(), '--key', keyFile(), '--json']);
    const done = finished(c);
    await until('banquo in its role', () => existsSync(join(dir, 'started-banquo')));
    // the dead run's mount, loop device and half-made overlay are there now
    expect(readdirSync(join(hostDir('h2'), 'images')).some((f) => f.startsWith('.banquo.qcow2.'))).toBe(true);
    workers.get('h2')!.kill('SIGKILL');
    await new Promise((res) => workers.get('h2')!.once('exit', res));
    // the role's own process went with the worker in a systemd unit (KillMode=mixed kills the group)
    process.kill(rolePid('banquo'), 'SIGKILL');
    rmSync(join(dir, 'slow-banquo'));
    rmSync(join(dir, 'started-banquo'));
    startWorker('h2');
    const r = await done;
    const out = JSON.parse(r.stdout) as { guests: Row[] };
    const banquo = out.guests.find((g) => g.guest === 'banquo')!;
    expect(banquo.state, banquo.error).toBe('built');
    expect(workerLog('h2')).toContain('cleaning up after a dead run of guest banquo');
    // no half image anywhere: nothing beside the disks, no loop device left, the guest whole
    expect(readdirSync(join(hostDir('h2'), 'images')).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(readdirSync(join(hostDir('h2'), 'state', 'queue-runs'))).toEqual([]);
    execFileSync('qemu-img', ['check', '-q', join(hostDir('h2'), 'images', 'banquo.qcow2')]);
    const raw = rawOf('h2', 'banquo');
    execFileSync('e2fsck', ['-fn', raw], { stdio: 'ignore' });
    expect(catIn(raw, '/etc/hostname').trim()).toBe('banquo');
    rmSync(raw);
    expect(loopsUnder()).toEqual([]);
    expect(out.guests.filter((g) => g.guest !== 'banquo').every((g) => g.state === 'unchanged')).toBe(true);
  });

  it('redis-server restarted mid-fleet: workers and coordinator reconnect and the fleet completes', async () => {
    writeFileSync(fleetFile(), fleetText(`${GUESTS}\n  - { name: banquo, ip: auto, host: h2 }\n  - { name: fleance, ip: auto, host: h3 }`));
    writeFileSync(join(dir, 'slow-fleance'), '');
    const c = coordinator(['build', fleetFile(), '--queue', url(), '--key', keyFile(), '--json']);
    const done = finished(c);
    await until('fleance in its role', () => existsSync(join(dir, 'started-fleance')));
    await stopRedis();
    // the guest's role ends while Redis is down
    rmSync(join(dir, 'slow-fleance'));
    process.kill(rolePid('fleance'), 'SIGTERM');
    rmSync(join(dir, 'started-fleance'));
    await new Promise((res) => setTimeout(res, 1500));
    await startRedis();
    const r = await done;
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { guests: Row[] };
    expect(out.guests.find((g) => g.guest === 'fleance')!.state).toBe('built');
    expect(workerLog('h3')).toMatch(/queue: .*(ECONNREFUSED|Connection is closed|connect)/);
  });

  it('a guest that keeps failing is retried with backoff, then reported failed with its error; the others go on', async () => {
    writeFileSync(fleetFile(), fleetText(`${GUESTS}\n  - { name: banquo, ip: auto, host: h2 }\n  - { name: fleance, ip: auto, host: h3 }\n  - { name: donalbain, ip: auto, host: h1 }`));
    writeFileSync(join(dir, 'fail-donalbain'), '');
    const r = await finished(coordinator(['build', fleetFile(), '--queue', url(), '--key', keyFile(), '--attempts', '2', '--json']));
    rmSync(join(dir, 'fail-donalbain'));
    expect(r.status).toBe(4); // FLEET_FAILED, as the local fleet
    const out = JSON.parse(r.stdout) as { guests: Row[] };
    const d = out.guests.find((g) => g.guest === 'donalbain')!;
    expect(d.state).toBe('failed');
    expect(d.attempts).toBe(2);
    expect(d.error).toMatch(/role .*slow-role\.sh failed with status 3: asked to fail/);
    expect(out.guests.filter((g) => g.guest !== 'donalbain').every((g) => g.state === 'unchanged')).toBe(true);
    // nothing of it is left on its host, and it is not in the host's inventory
    expect(readdirSync(join(hostDir('h1'), 'images')).filter((f) => f.includes('donalbain'))).toEqual([]);
    expect(readFileSync(join(hostDir('h1'), 'state', 'inventory.json'), 'utf8')).not.toContain('donalbain');
  });

  it('jobs pushed straight into Redis unsigned, tampered, for another host or with an invalid spec are refused; nothing changes on the host', async () => {
    const before = snapshot('h1');
    const client = redisClient(url());
    const q = new Queue('domu-forge.h1', { connection: client });
    try {
      const key = readFileSync(keyFile()).toString().trim();
      const text = readFileSync(fleetFile(), 'utf8');
      const payload = { v: 1, kind: 'guest', host: 'h1', fleet: 'thanes', file: fleetFile(), text, run: 'x', guest: 'cawdor', ip: '10.20.0.10' };
      const evil = join(dir, 'evil-ran');
      writeFileSync(join(dir, 'evil.sh'), `#!/bin/sh\ntouch ${evil}\n`, { mode: 0o755 });
      const tampered = { ...signJob(Buffer.from(key), payload), payload: { ...payload, text: text.replace(`roles: [${join(dir, 'slow-role.sh')}]`, `roles: [${join(dir, 'evil.sh')}]`) } };
      const otherHost = signJob(Buffer.from(key), { ...payload, host: 'h2' });
      const invalid = signJob(Buffer.from(key), { ...payload, text: text.replace('size: 48M', 'size: lots') });
      const jobs = await Promise.all([
        q.add('guest', payload, { attempts: 3 }),
        q.add('guest', { payload, signature: '0'.repeat(64) }, { attempts: 3 }),
        q.add('guest', tampered, { attempts: 3 }),
        q.add('guest', otherHost, { attempts: 3 }),
        q.add('guest', invalid, { attempts: 3 }),
      ]);
      const reasons: string[] = [];
      for (const j of jobs) {
        await until(`job ${j.id} failed`, async () => (await q.getJob(j.id!))!.finishedOn !== undefined, 60_000);
        const f = (await q.getJob(j.id!))!;
        expect(await f.getState()).toBe('failed');
        expect(f.attemptsMade).toBe(1); // not retried
        reasons.push(f.failedReason);
      }
      expect(reasons[0]).toMatch(/refused \(unsigned\)/);
      expect(reasons[1]).toMatch(/refused \(bad-signature\)/);
      expect(reasons[2]).toMatch(/refused \(bad-signature\)/);
      expect(reasons[3]).toMatch(/refused \(other-host\)/);
      expect(reasons[4]).toMatch(/refused \(invalid-spec\)/);
      expect(existsSync(evil)).toBe(false);
      expect(snapshot('h1')).toBe(before);
      expect((workerLog('h1').match(/REFUSED job/g) ?? []).length).toBe(5);
    } finally {
      await q.close();
      await client.quit();
    }
  });

  it('SIGTERM: a worker stops at a stage boundary, hands its job back and exits 0; the next worker builds it', async () => {
    writeFileSync(fleetFile(), fleetText(`${GUESTS}\n  - { name: banquo, ip: auto, host: h2 }\n  - { name: fleance, ip: auto, host: h3 }\n  - { name: macduff, ip: auto, host: h1 }`));
    writeFileSync(join(dir, 'slow-macduff'), '');
    const c = coordinator(['build', fleetFile(), '--queue', url(), '--key', keyFile(), '--json']);
    const done = finished(c);
    await until('macduff in its role', () => existsSync(join(dir, 'started-macduff')));
    const w = workers.get('h1')!;
    const exited = new Promise<number | null>((res) => w.once('exit', (code) => res(code)));
    w.kill('SIGTERM');
    // the role stage finishes (the stage in progress is not cut short), then the worker stops
    rmSync(join(dir, 'slow-macduff'));
    process.kill(rolePid('macduff'), 'SIGTERM');
    rmSync(join(dir, 'started-macduff'));
    expect(await exited).toBe(0);
    expect(workerLog('h1')).toContain('the worker is stopping');
    expect(readdirSync(join(hostDir('h1'), 'images')).filter((f) => f.startsWith('.'))).toEqual([]);
    startWorker('h1');
    const r = await done;
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { guests: Row[] };
    expect(out.guests.find((g) => g.guest === 'macduff')!.state).toBe('built');
  });
});
