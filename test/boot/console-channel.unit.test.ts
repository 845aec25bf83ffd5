// The boot test's console input: a Unix socket as qemu serves it (here a small server in a temp dir).
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsoleChannel } from '../../src/boot/console-channel.js';

const dir = mkdtempSync(join(tmpdir(), 'df-mirror-console-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function serve(path: string): Promise<{ server: net.Server; received: Promise<string>; peer: Promise<net.Socket> }> {
  return new Promise((resolve) => {
    let gotPeer!: (s: net.Socket) => void;
    const peer = new Promise<net.Socket>((r) => (gotPeer = r));
    let text = '';
    let ended!: (s: string) => void;
    const received = new Promise<string>((r) => (ended = r));
    const server = net.createServer((s) => {
      s.write('login: '); // what the guest prints is drained, never echoed back
      s.setEncoding('latin1');
      s.on('data', (d: string) => (text += d));
      s.on('end', () => ended(text));
      s.on('close', () => ended(text));
      gotPeer(s);
    });
    server.listen(path, () => resolve({ server, received, peer }));
  });
}

describe('ConsoleChannel', () => {
  it('connects, types what it is given in order, and closes', async () => {
    const path = join(dir, `c${n++}.sock`);
    const { server, received } = await serve(path);
    const c = new ConsoleChannel(path);
    await c.connect(10_000);
    await c.send('root\n');
    await c.send('pässwd\r');
    c.close();
    expect(await received).toBe('root\np\xe4sswd\r');
    await new Promise((r) => server.close(r));
  });

  it('retries until the socket appears', async () => {
    const path = join(dir, `c${n++}.sock`);
    const c = new ConsoleChannel(path);
    const connecting = c.connect(60_000);
    // the server comes up only after the first attempt has failed
    await new Promise((r) => setTimeout(r, 300));
    const { server, received } = await serve(path);
    await connecting;
    await c.send('x');
    c.close();
    expect(await received).toBe('x');
    await new Promise((r) => server.close(r));
  });

  it('gives up with one line naming the socket, stops when qemu is gone, and honours an abort', async () => {
    const path = join(dir, 'nobody-listens.sock');
    await expect(new ConsoleChannel(path).connect(300)).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(new RegExp(`^cannot connect to the guest console socket ${path}: connect ENOENT`)) });
    const gone = new ConsoleChannel(path);
    await gone.connect(60_000, undefined, () => true);
    await expect(gone.send('x')).rejects.toThrow('the guest console socket closed');
    const ac = new AbortController();
    ac.abort();
    await expect(new ConsoleChannel(path).connect(60_000, ac.signal)).rejects.toMatchObject({ code: 'INTERRUPTED' });
  });

  it('refuses to type once the other end has closed', async () => {
    const path = join(dir, `c${n++}.sock`);
    const { server, peer } = await serve(path);
    const c = new ConsoleChannel(path);
    await c.connect(10_000);
    (await peer).destroy();
    await expect((async () => {
      for (let i = 0; i < 1000; i++) await c.send('y');
    })()).rejects.toThrow();
    c.close();
    await new Promise((r) => server.close(r));
  });
});
