#!/usr/bin/env node
// The `domicilio` command: runs the compiled CLI (built by `npm install` through the `prepare` script).
// Errors a person can act on are printed as one line, without a stack trace; exit code 1.

// libuv runs file-system calls on a pool of 4 threads by default; a mail store fsyncs every message, and
// more fsyncs in flight let the disk's queue serve them together. Set before the pool first starts.
process.env.UV_THREADPOOL_SIZE ??= "16";

// A copy (`migrate`) is a process of a few seconds whose JavaScript runs mostly cold: V8 sent hundreds of
// lukewarm functions to its optimising compiler on background threads, a third of the process's CPU for
// a 150 MB box (bench/migrate.ts), on a machine whose other core the old server needs. Tiering up after
// 4× the default interrupt budget spares most of that; the hot loops (imapflow's tokenizer, the copy's
// own) still get optimised. Set before any of the command's code is loaded.
if (process.argv.slice(2).find((a) => !a.startsWith("-")) === "migrate") {
  const { setFlagsFromString } = await import("node:v8");
  setFlagsFromString("--interrupt-budget=270336");
}
const { main } = await import("../dist/cli/main.js");

/** File-system errors say which path and what went wrong, in words. */
const FS_ERRORS = {
  ENOENT: "no such file or folder",
  EACCES: "permission denied",
  EISDIR: "a folder was given where a file was expected",
  ENOTDIR: "not a folder",
  EADDRINUSE: "address already in use",
};

main(process.argv).catch((err) => {
  const words = err && typeof err === "object" && FS_ERRORS[err.code];
  if (words) {
    const where = err.path ?? (err.address ? `${err.address}:${err.port}` : "");
    console.error(where ? `${where}: ${words}` : words);
  } else {
    console.error(err instanceof Error ? err.message : String(err));
  }
  if (process.env.DOMICILIO_DEBUG && err instanceof Error) console.error(err.stack);
  process.exit(1);
});
