// A worker thread that runs one of this project's modules, from dist/ (.js) or from the sources when
// they run under tsx (the tests), whose loader a thread does not inherit: the thread's first lines,
// plain CommonJS run with `eval`, register tsx when the module is TypeScript and then import it.
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

const BOOT = `
const { workerData } = require("node:worker_threads");
(async () => {
  if (workerData.file.endsWith(".ts")) (await import("tsx/esm/api")).register();
  await import(workerData.file);
})().catch((err) => { setImmediate(() => { throw err; }); });
`;

/**
 * Starts `name` (a module beside `from`, without extension) on a new thread; `from` is the caller's
 * `import.meta.url`, whose extension tells whether the sources or dist/ are running.
 */
export function startModuleThread(from: string, name: string): Worker {
  const ext = extname(fileURLToPath(from));
  const file = new URL(`./${name}${ext}`, from).href;
  return new Worker(BOOT, { eval: true, workerData: { file } });
}
