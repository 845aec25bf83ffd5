// The input side of a guest console: qemu serves the serial port as a Unix socket (and logs all it
// sends to the console log file); this connects to it, drains what qemu sends (the log file is the
// record) and types what the login dialogue sends.

import net from 'node:net';
import { DomuError, oneLine } from '../errors.js';

export class ConsoleChannel {
  private socket?: net.Socket;
  private closed = false;

  constructor(readonly path: string) {}

  /** Connect, retrying while qemu has not made the socket yet; `gone` says qemu ended (then it stops trying). */
  async connect(timeoutMs: number, signal?: AbortSignal, gone: () => boolean = () => false): Promise<void> {
    const until = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < until) {
      if (signal?.aborted) throw new DomuError('INTERRUPTED', 'boot-test was interrupted');
      if (gone()) return;
      try {
        this.socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.createConnection(this.path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        // what qemu sends is in the log file already; reading keeps qemu's serial port from stalling
        this.socket.on('data', () => undefined);
        this.socket.on('error', () => undefined);
        this.socket.on('close', () => {
          this.closed = true;
        });
        return;
      } catch (e) {
        last = oneLine(e);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new DomuError('INTERNAL', `cannot connect to the guest console socket ${this.path}: ${last || 'interrupted'}`);
  }

  /** Type `text` on the console, a character at a time with a short pause (a UART has no buffer to speak of). */
  async send(text: string): Promise<void> {
    for (const ch of text) {
      if (!this.socket || this.closed) throw new DomuError('INTERNAL', 'the guest console socket closed');
      await new Promise<void>((resolve, reject) => this.socket!.write(ch, 'latin1', (e) => (e ? reject(e) : resolve())));
      await new Promise((r) => setTimeout(r, 15));
    }
  }

  close(): void {
    this.socket?.destroy();
    this.closed = true;
  }
}
