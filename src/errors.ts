// The one error type of the library: a stable `code` that the CLI maps to an exit status,
// and a one-line message meant for the user.

/** Stable error codes. The CLI maps each to an exit status (see EXIT_STATUS and the README). */
export type ErrorCode =
  | 'USAGE' // bad flags or arguments
  | 'BAD_INPUT' // the input is wrong: missing source, non-empty target, invalid spec ...
  | 'MISSING_TOOL' // a system tool we need is not installed
  | 'ENVIRONMENT' // the host cannot do it: not root, no loop devices, no space ...
  | 'PARTIAL' // the job finished, but some entries could not be copied or written
  | 'SOURCE_CHANGED' // the source changed under us (vanished, grew, shrank)
  | 'VERIFY_FAILED' // a comparison found differences
  | 'BOOT_FAILED' // a boot test did not reach its goal
  | 'FLEET_FAILED' // a fleet build finished, but one or more guests (or its base) failed
  | 'INTERRUPTED' // SIGINT or SIGTERM
  | 'INTERNAL'; // a bug or an unexpected failure

/** Exit status per error code. Documented in the README; never renumber one. */
export const EXIT_STATUS: Readonly<Record<ErrorCode, number>> = {
  INTERNAL: 1,
  USAGE: 2,
  BAD_INPUT: 2,
  MISSING_TOOL: 3,
  FLEET_FAILED: 4,
  ENVIRONMENT: 3,
  PARTIAL: 23,
  SOURCE_CHANGED: 24,
  VERIFY_FAILED: 5,
  BOOT_FAILED: 6,
  INTERRUPTED: 130,
};

/** Exit status when a second signal ends the process at once: 128 + the signal number, as shells report it. */
export const SIGNAL_EXIT_STATUS = { SIGINT: 130, SIGTERM: 143 } as const;

export class DomuError extends Error {
  readonly code: ErrorCode;
  /** An optional second line: what the user can do about it. */
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DomuError';
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
  }

  get exitStatus(): number {
    return EXIT_STATUS[this.code];
  }
}

export function isDomuError(e: unknown): e is DomuError {
  return e instanceof DomuError;
}

/** The errno code of a Node system error (`ENOENT`, ...), or undefined. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return undefined;
}

/** Make the message of any thrown value fit on one line. */
export function oneLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
