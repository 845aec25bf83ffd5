// Starting tools from a small helper process instead of from Node's own. Linux's fork() copies the
// parent's page tables, so a spawn from Node costs in proportion to its memory, and it runs on the
// main thread: about 2 ms from a bare Node, 13 ms from one holding 200 MiB, 50 ms from 1 GiB
// (measured here with /bin/true). A fleet build starts about 18 tools per guest, from a process of
// 150 MiB: the spawns alone took most of its main thread. The helper is python3 (standard library
// only), whose subprocess module starts a child with vfork, so a spawn costs the same whatever
// domu-forge holds. It serves many requests at once (a thread each): a request is one JSON line
// (arguments and input as base64: raw bytes need not be UTF-8), a reply one JSON line giving the
// lengths of the stdout and stderr bytes that follow it as they are.
//
// The helper starts on the first tool call (which runs directly meanwhile, so a command that calls
// one tool waits for nothing) and stays until the process ends; it holds the event loop only while
// requests are out. Without python3, or with DOMU_FORGE_DIRECT_SPAWN=1, every call is direct.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { python3 } from './python.js';

const SCRIPT = String.raw`
import base64, json, os, signal, subprocess, sys, threading
# handlers (not SIG_IGN, which children would inherit): Ctrl-C or a SIGTERM to the process group
# reaches the tools, as it would without the helper, and leaves the helper to run the cleanup's
# tools; it ends when domu-forge does (its input closes)
signal.signal(signal.SIGINT, lambda *a: None)
signal.signal(signal.SIGTERM, lambda *a: None)
lock = threading.Lock()
procs = {}
out = sys.stdout.buffer
def reply(m, o=b'', e=b''):
    m['out'] = len(o)
    m['err'] = len(e)
    b = (json.dumps(m) + '\n').encode()
    with lock:
        out.write(b)
        out.write(o)
        out.write(e)
        out.flush()
def run(q):
    i = q['id']
    try:
        argv = [base64.b64decode(a) for a in q['argv']]
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=q.get('cwd'), env=q['env'])
    except OSError as e:
        reply({'id': i, 'errno': e.errno, 'error': e.strerror or str(e)})
        return
    except Exception as e:
        reply({'id': i, 'errno': 0, 'error': str(e)})
        return
    with lock:
        procs[i] = p
    try:
        o, e = p.communicate(base64.b64decode(q['input']))
    except Exception as x:
        p.kill()
        o, e = b'', str(x).encode()
        p.wait()
    with lock:
        procs.pop(i, None)
    rc = p.returncode
    reply({'id': i, 'status': rc if rc >= 0 else None, 'signal': -rc if rc < 0 else None}, o, e)
for line in sys.stdin.buffer:
    q = json.loads(line)
    if 'kill' in q:
        with lock:
            p = procs.get(q['kill'])
        if p is not None:
            try:
                p.send_signal(q['sig'])
            except OSError:
                pass
        continue
    threading.Thread(target=run, args=(q,), daemon=True).start()
`;

export interface SpawnRequest {
  /** The tool and its arguments, as the bytes exec gets. */
  argv: readonly Buffer[];
  cwd?: string;
  env: NodeJS.ProcessEnv;
  input: Buffer;
  signal?: AbortSignal;
}

export type SpawnReply =
  | { ok: true; status: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: Buffer }
  /** It could not start: the errno's code (ENOENT for a missing tool or folder), or ABORTED. */
  | { ok: false; code: string; message: string };

interface Pending {
  resolve(r: SpawnReply): void;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));
const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

class Helper {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Reply bytes not yet taken: a header line, then its stdout and stderr bytes. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: { id: number; status?: number | null; signal?: number | null; errno?: number; error?: string; out: number; err: number } | undefined;
  private dead = false;

  constructor(python: string) {
    this.child = spawn(python, ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    this.child.stdout.on('data', (b: Buffer) => this.data(b));
    this.child.stderr.on('data', () => undefined);
    this.child.stdin.on('error', () => undefined);
    this.child.on('error', () => this.die());
    this.child.on('close', () => this.die());
    this.idle();
  }

  run(r: SpawnRequest): Promise<SpawnReply> {
    const id = this.nextId++;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.env)) if (v !== undefined) env[k] = v;
    const line = JSON.stringify({ id, argv: r.argv.map((a) => a.toString('base64')), ...(r.cwd !== undefined ? { cwd: r.cwd } : {}), env, input: r.input.toString('base64') });
    return new Promise<SpawnReply>((resolve) => {
      const p: Pending = { resolve };
      if (this.pending.size === 0) this.busy();
      this.pending.set(id, p);
      if (r.signal) {
        // as a direct spawn does: the tool gets SIGTERM and the call ends at once (its reply, when
        // it comes, is dropped), not once whatever it started has let go of its output
        const onAbort = () => {
          this.child.stdin.write(`${JSON.stringify({ kill: id, sig: osConstants.signals.SIGTERM })}\n`);
          if (!this.pending.delete(id)) return;
          if (this.pending.size === 0) this.idle();
          p.resolve({ ok: false, code: 'ABORTED', message: 'aborted' });
        };
        r.signal.addEventListener('abort', onAbort, { once: true });
        const settle = p.resolve;
        p.resolve = (x) => {
          r.signal!.removeEventListener('abort', onAbort);
          settle(x);
        };
      }
      this.child.stdin.write(`${line}\n`);
    });
  }

  private data(b: Buffer): void {
    this.chunks.push(b);
    this.buffered += b.length;
    for (;;) {
      if (!this.header) {
        const all = this.take(this.buffered);
        const nl = all.indexOf(0x0a);
        if (nl < 0) {
          this.put(all);
          return;
        }
        this.header = JSON.parse(all.toString('utf8', 0, nl)) as NonNullable<Helper['header']>;
        this.put(all.subarray(nl + 1));
      }
      const h = this.header;
      if (this.buffered < h.out + h.err) return;
      const body = this.take(h.out + h.err);
      this.header = undefined;
      this.settle(h, body.subarray(0, h.out), body.subarray(h.out));
    }
  }

  /** The first `n` buffered bytes (one copy at most), the rest kept. */
  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    this.buffered = 0;
    this.put(all.subarray(n));
    return all.subarray(0, n);
  }

  private put(rest: Buffer): void {
    if (rest.length === 0) return;
    this.chunks.push(rest);
    this.buffered += rest.length;
  }

  private settle(m: NonNullable<Helper['header']>, stdout: Buffer, stderr: Buffer): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.idle();
    if (m.errno !== undefined) p.resolve({ ok: false, code: ERRNO_NAMES.get(m.errno) ?? 'EUNKNOWN', message: m.error ?? 'could not start' });
    else p.resolve({ ok: true, status: m.status ?? null, signal: m.signal ? (SIGNAL_NAMES.get(m.signal) ?? 'SIGKILL') : null, stdout, stderr });
  }

  /** Requests are out: keep the process alive until they are answered. */
  private busy(): void {
    this.child.ref();
    handle(this.child.stdout).ref?.();
  }

  /** Nothing is out: the helper must not keep the process alive. */
  private idle(): void {
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) handle(s).unref?.();
  }

  /** Stop it now (what it was running is left to end on its own). */
  kill(): void {
    this.child.kill();
  }

  private die(): void {
    if (this.dead) return;
    this.dead = true;
    if (helper === this) helper = undefined;
    for (const p of this.pending.values()) p.resolve({ ok: false, code: 'EHELPER', message: 'the spawn helper ended' });
    this.pending.clear();
  }
}

/** A child's pipe is a net.Socket, which can hold the event loop or let it go. */
function handle(s: unknown): { ref?: () => void; unref?: () => void } {
  return s as { ref?: () => void; unref?: () => void };
}

let helper: Helper | undefined;
let unavailable = false;

/**
 * The helper to run a tool through, or undefined to spawn directly: this call (the first starts
 * the helper for the next ones), or when there is no python3 or DOMU_FORGE_DIRECT_SPAWN=1.
 */
export function spawnHelper(): { run(r: SpawnRequest): Promise<SpawnReply> } | undefined {
  if (helper) return helper;
  if (unavailable || process.env.DOMU_FORGE_DIRECT_SPAWN === '1') return undefined;
  const py = python3();
  if (!py) {
    unavailable = true;
    return undefined;
  }
  helper = new Helper(py);
  return undefined;
}

/** Stop the helper (tests; the process's end stops it anyway, as its input closes). */
export function stopSpawnHelper(): void {
  const h = helper;
  helper = undefined;
  h?.kill();
}
