// The argument encoding of runTool, pure: which command lines go straight to the tool and which
// through sh's byte-exact decoder.

import { describe, expect, it } from 'vitest';
import { commandLine, printfEscape, toolFailed } from '../../src/sys/exec.js';

describe('printfEscape', () => {
  it('keeps plain bytes and writes every other byte as a three-digit octal escape', () => {
    expect(printfEscape(Buffer.from('/etc/host-name'))).toBe('/etc/host\\055name');
    expect(printfEscape(Buffer.from([0x41, 0xe9, 0xff, 0x25, 0x5c, 0x0a, 0x20]))).toBe('A\\351\\377\\045\\134\\012\\040');
  });
  it('never starts a format with - and never leaves a % (printf would read an option or a conversion)', () => {
    const f = printfEscape(Buffer.from('-%s%%'));
    expect(f.startsWith('-')).toBe(false);
    expect(f).not.toContain('%');
  });
});

describe('commandLine', () => {
  it('passes strings and valid UTF-8 Buffers straight to the tool', () => {
    expect(commandLine('ls', ['-l', Buffer.from('/tmp/caf\u00e9', 'utf8')])).toEqual({ file: 'ls', argv: ['-l', '/tmp/caf\u00e9'], viaShell: false });
  });
  it('sends a command with a non-UTF-8 Buffer through sh, every argument escaped', () => {
    const c = commandLine('touch', ['--', Buffer.from([0x2f, 0x61, 0xe9])]);
    expect(c.file).toBe('sh');
    expect(c.viaShell).toBe(true);
    expect(c.argv.slice(3)).toEqual(['touch', '\\055\\055', '/a\\351']);
  });
});

describe('toolFailed', () => {
  it('is one shape: INTERNAL, the tool, its last words or the signal or status', () => {
    expect(toolFailed('mknod', 1, 'mknod: x: File exists\n').message).toBe('mknod failed: mknod: x: File exists');
    expect(toolFailed('cp', 9, '', 'SIGKILL').message).toBe('cp failed: killed by SIGKILL');
    expect(toolFailed('cp', 4, '').code).toBe('INTERNAL');
    expect(toolFailed('cp', 4, '').message).toBe('cp failed: exit status 4');
  });
});
