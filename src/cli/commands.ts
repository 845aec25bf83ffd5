// The list of subcommands. Each lives in its own file and exports register(program).

import type { Command } from 'commander';
import { register as registerClone } from './clone.js';
import { register as registerFixup } from './fixup.js';
import { register as registerXenConfig } from './xen-config.js';
import { register as registerVerify } from './verify.js';
import { register as registerBuild } from './build.js';
import { register as registerList } from './list.js';
import { register as registerDelete } from './delete.js';
import { register as registerBench } from './bench.js';
import { register as registerImportDisk } from './import-disk.js';
import { register as registerInstall } from './install.js';
import { register as registerTar } from './tar.js';
import { register as registerBootTest } from './boot-test.js';

export function registerCommands(program: Command): void {
  registerClone(program);
  registerFixup(program);
  registerXenConfig(program);
  registerVerify(program);
  registerBuild(program);
  registerList(program);
  registerDelete(program);
  registerBench(program);
  registerImportDisk(program);
  registerInstall(program);
  registerTar(program);
  registerBootTest(program);
}
