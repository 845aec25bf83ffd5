// fixup/securetty: let root log in on the Xen console where the guest restricts root logins to the
// terminals listed in /etc/securetty.

import { consoleOf, defineStage } from './context.js';

export const securettyStage = defineStage('securetty', 'allow root on the Xen console in /etc/securetty', async (ctx, p) => {
  const text = await ctx.view.readText('/etc/securetty', 1 << 20);
  if (text === undefined) return 'the guest has no /etc/securetty';
  const dev = consoleOf(ctx);
  const lines = text.split('\n').map((l) => l.trim());
  if (lines.includes(dev) || lines.includes(`/dev/${dev}`)) return;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  await p.writeFile('/etc/securetty', `${text}${sep}${dev}\n`);
});
