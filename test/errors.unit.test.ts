// The one error type and the exit statuses the CLI maps its codes to (docs: exit statuses).
import { describe, expect, it } from 'vitest';
import { DomuError, EXIT_STATUS, SIGNAL_EXIT_STATUS, errnoCode, isDomuError, oneLine, type ErrorCode } from '../src/errors.js';

describe('errors', () => {
  it('keeps the documented exit statuses (never renumbered)', () => {
    expect(EXIT_STATUS).toEqual({
      INTERNAL: 1,
      USAGE: 2,
      BAD_INPUT: 2,
      MISSING_TOOL: 3,
      ENVIRONMENT: 3,
      FLEET_FAILED: 4,
      VERIFY_FAILED: 5,
      BOOT_FAILED: 6,
      PARTIAL: 23,
      SOURCE_CHANGED: 24,
      INTERRUPTED: 130,
    });
    expect(SIGNAL_EXIT_STATUS).toEqual({ SIGINT: 130, SIGTERM: 143 });
  });

  it('a DomuError carries its code, exit status, hint and cause', () => {
    const cause = new Error('low level');
    const e = new DomuError('MISSING_TOOL', 'rsync is not installed', { hint: 'apt-get install rsync', cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('DomuError');
    expect(e.code).toBe('MISSING_TOOL');
    expect(e.exitStatus).toBe(3);
    expect(e.hint).toBe('apt-get install rsync');
    expect(e.cause).toBe(cause);
    expect(e.message).toBe('rsync is not installed');
    const bare = new DomuError('PARTIAL', 'x');
    expect(bare.exitStatus).toBe(23);
    expect(bare.hint).toBeUndefined();
    expect(bare.cause).toBeUndefined();
    for (const code of Object.keys(EXIT_STATUS) as ErrorCode[]) expect(new DomuError(code, code).exitStatus).toBe(EXIT_STATUS[code]);
  });

  it('tells its own errors from others', () => {
    expect(isDomuError(new DomuError('USAGE', 'x'))).toBe(true);
    expect(isDomuError(new Error('x'))).toBe(false);
    expect(isDomuError({ code: 'USAGE', message: 'x' })).toBe(false);
  });

  it('reads the errno code of a system error, and nothing else', () => {
    expect(errnoCode(Object.assign(new Error('gone'), { code: 'ENOENT' }))).toBe('ENOENT');
    expect(errnoCode({ code: 'EACCES' })).toBe('EACCES');
    expect(errnoCode({ code: 13 })).toBeUndefined();
    expect(errnoCode(new Error('plain'))).toBeUndefined();
    expect(errnoCode(null)).toBeUndefined();
    expect(errnoCode('ENOENT')).toBeUndefined();
  });

  it('makes any message one line', () => {
    expect(oneLine(new Error('first\n  second\r\nthird  '))).toBe('first second third');
    expect(oneLine('  a\n\nb ')).toBe('a b');
    expect(oneLine(42)).toBe('42');
    expect(oneLine(undefined)).toBe('undefined');
  });
});
