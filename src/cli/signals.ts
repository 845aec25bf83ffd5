// Signals for the commands: the first SIGINT/SIGTERM aborts the job so that it unwinds through its
// cleanup stack; only the CLI may end the process.

import { SIGNAL_EXIT_STATUS } from '../errors.js';

export type SignalName = keyof typeof SIGNAL_EXIT_STATUS;

/**
 * Abort `controller` on SIGINT/SIGTERM instead of dying, so that the job can unwind through its
 * cleanup stack. A second signal exits at once (130 for SIGINT, 143 for SIGTERM, as shells report them). Returns a function that removes the handlers.
 */
export function abortOnSignals(controller: AbortController, onSignal?: (sig: SignalName) => void): () => void {
  let seen = 0;
  const handler = (sig: SignalName) => {
    seen += 1;
    if (seen > 1) process.exit(SIGNAL_EXIT_STATUS[sig]);
    onSignal?.(sig);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  const onInt = () => handler('SIGINT');
  const onTerm = () => handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
}
