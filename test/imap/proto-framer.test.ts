// Byte tables for the command framer: every input is also fed cut at every byte boundary (and byte by
// byte), and must give exactly the same events.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CommandFramer, type FramerEvent } from "../../src/imap/proto/framer.js";

const limits = {
  maxLineBytes: 100,
  maxCommandBytes: 1000,
  maxLiteralBytes: (first: Buffer) => (/^\S+ APPEND /i.test(first.toString("latin1")) ? 500 : 50),
};

function show(events: FramerEvent[]): string[] {
  return events.map((e) => {
    switch (e.kind) {
      case "command":
        return `command ${JSON.stringify(e.bytes.toString("latin1"))}`;
      case "line":
        return `line ${JSON.stringify(e.bytes.toString("latin1"))}`;
      case "continue":
        return `continue ${e.size}`;
      case "line-too-long":
        return `line-too-long ${e.tag}`;
      case "literal-too-big":
        return `literal-too-big ${e.tag} ${e.size}${e.fatal ? " fatal" : ""}`;
      default:
        return "unknown";
    }
  });
}

function feed(chunks: Buffer[]): string[] {
  const f = new CommandFramer(limits);
  const out: FramerEvent[] = [];
  for (const c of chunks) out.push(...f.push(c));
  return show(out);
}

/** The events for `input` fed whole, split in two at every boundary, and one byte at a time. */
function allSplits(input: string): string[] {
  const buf = Buffer.from(input, "latin1");
  const whole = feed([buf]);
  for (let i = 1; i < buf.length; i++) {
    assert.deepEqual(
      feed([buf.subarray(0, i), buf.subarray(i)]),
      whole,
      `split at ${i} of ${JSON.stringify(input)}`,
    );
  }
  assert.deepEqual(
    feed([...buf].map((b) => Buffer.from([b]))),
    whole,
    `byte by byte: ${JSON.stringify(input)}`,
  );
  return whole;
}

const TABLE: [string, string, string[]][] = [
  ["a simple command", "a1 NOOP\r\n", ['command "a1 NOOP"']],
  ["a bare LF ends a line too", "a1 NOOP\n", ['command "a1 NOOP"']],
  ["two pipelined commands", "a NOOP\r\nb CAPABILITY\r\n", ['command "a NOOP"', 'command "b CAPABILITY"']],
  [
    "a synchronizing literal asks for continuation and keeps its bytes",
    "a LOGIN {3}\r\nabc {2}\r\nxy\r\n",
    ["continue 3", "continue 2", 'command "a LOGIN {3}\\r\\nabc {2}\\r\\nxy"'],
  ],
  [
    "a LITERAL+ literal needs no continuation",
    "a LOGIN {3+}\r\nabc x\r\n",
    ['command "a LOGIN {3+}\\r\\nabc x"'],
  ],
  [
    "a literal may contain CRLF and braces",
    "t APPEND INBOX {12+}\r\nx\r\n{5}\r\ny\r\nz\r\n",
    ['command "t APPEND INBOX {12+}\\r\\nx\\r\\n{5}\\r\\ny\\r\\nz"'],
  ],
  ["a zero-length literal", 'a LOGIN {0}\r\n ""\r\n', ["continue 0", 'command "a LOGIN {0}\\r\\n \\"\\""']],
  [
    "a literal8 in APPEND",
    "a APPEND INBOX ~{2}\r\n\x00\x01\r\n",
    ["continue 2", 'command "a APPEND INBOX ~{2}\\r\\n\\u0000\\u0001"'],
  ],
  [
    "a synchronizing literal over the limit is refused and the next command is read",
    "a LOGIN {51}\r\nb NOOP\r\n",
    ["literal-too-big a 51", 'command "b NOOP"'],
  ],
  [
    "APPEND gets the larger literal limit",
    `a APPEND INBOX {60+}\r\n${"x".repeat(60)}\r\n`,
    [`command "a APPEND INBOX {60+}\\r\\n${"x".repeat(60)}"`],
  ],
  [
    "a non-synchronizing literal over the limit is fatal",
    `a LOGIN {51+}\r\n${"x".repeat(51)}\r\n`,
    ["literal-too-big a 51 fatal"],
  ],
  [
    "an over-long line is dropped with its tag and reading goes on",
    `x1 ${"A".repeat(150)}\r\nb NOOP\r\n`,
    ["line-too-long x1", 'command "b NOOP"'],
  ],
  [
    "an over-long line ending in a synchronizing literal ends its command: the client waits for a + that never comes",
    `x1 ${"A".repeat(150)} {5}\r\nb NOOP\r\n`,
    ["line-too-long x1", 'command "b NOOP"'],
  ],
  [
    "an over-long line ending in a LITERAL+ literal skips the literal and the rest of its command (RFC 7888 §4)",
    `x1 ${"A".repeat(150)} {12+}\r\nz1 LOGOUT\r\n (more) {3+}\r\nxyz\r\nb NOOP\r\n`,
    ["line-too-long x1", 'command "b NOOP"'],
  ],
  [
    "an over-long line announcing a LITERAL+ literal over the limit is fatal",
    `x1 ${"A".repeat(150)} {51+}\r\n${"x".repeat(51)}\r\nb NOOP\r\n`,
    ["literal-too-big x1 51 fatal"],
  ],
  [
    "an over-long line after a literal drops the whole command, tagged with its first line",
    `f0 APPEND INBOX {4}\r\nab\r\nAPPEND {10}\r\nxy\r\n\r\nz${"x".repeat(150)}\r\nzzend NOOP\r\n`,
    ["continue 4", "continue 10", "line-too-long f0", 'command "zzend NOOP"'],
  ],
  ["an empty line is an empty command", "\r\n", ['command ""']],
  ["a line without end waits", "a NOOP", []],
];

for (const [name, input, expected] of TABLE) {
  test(`framer: ${name}`, () => {
    assert.deepEqual(allSplits(input), expected);
  });
}

/**
 * Pulls events as the session does: after a command whose name is IDLE the next line is a continuation
 * line (RFC 2177 §3), read in line mode; `chunks` arrive one at a time, each pulled dry.
 */
function feedAsSession(chunks: Buffer[]): string[] {
  const f = new CommandFramer(limits);
  const out: FramerEvent[] = [];
  let lineMode = false;
  for (const c of chunks) {
    f.write(c);
    for (;;) {
      f.lineMode = lineMode;
      const ev = f.next();
      f.lineMode = false;
      if (!ev) break;
      out.push(ev);
      if (lineMode) lineMode = false;
      else if (ev.kind === "command" && / IDLE$/i.test(ev.bytes.toString("latin1"))) lineMode = true;
    }
  }
  return show(out);
}

const LINE_MODE_TABLE: [string, string, string[]][] = [
  [
    "IDLE then DONE, pipelined",
    "a IDLE\r\nDONE\r\nb NOOP\r\n",
    ['command "a IDLE"', 'line "DONE"', 'command "b NOOP"'],
  ],
  [
    // The fuzz seed 323744: an APPEND with literals sent during IDLE, then a line over the limit. The line
    // after IDLE is IDLE's answer, not a command: no continuation for its literal, and what follows is read
    // as commands; the over-long line costs one event and `zzend NOOP` is still a command.
    "a command announcing a literal during IDLE is IDLE's (wrong) answer, and reading goes on after it",
    `s IDLE\r\nf0 APPEND INBOX {33}\r\nx\r\nAPPEND {33}\r\nyy\r\n\r\nz${"x".repeat(150)}\r\nzzend NOOP\r\n`,
    [
      'command "s IDLE"',
      'line "f0 APPEND INBOX {33}"',
      'command "x"',
      "continue 33",
      "line-too-long APPEND",
      'command "zzend NOOP"',
    ],
  ],
  [
    "an over-long line during IDLE is one event and does not open a literal",
    `s IDLE\r\n${"D".repeat(150)} {5+}\r\nb NOOP\r\n`,
    [
      'command "s IDLE"',
      "line-too-long DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD",
      'command "b NOOP"',
    ],
  ],
];

for (const [name, input, expected] of LINE_MODE_TABLE) {
  test(`framer, pulled as the session does: ${name}`, () => {
    const buf = Buffer.from(input, "latin1");
    const whole = feedAsSession([buf]);
    assert.deepEqual(whole, expected);
    for (let i = 1; i < buf.length; i++)
      assert.deepEqual(feedAsSession([buf.subarray(0, i), buf.subarray(i)]), whole, `split at ${i}`);
    assert.deepEqual(feedAsSession([...buf].map((b) => Buffer.from([b]))), whole, "byte by byte");
  });
}

test("framer: bytes after a command stay unframed until the reader asks", () => {
  const f = new CommandFramer(limits);
  f.write(Buffer.from("a IDLE\r\nx {5}\r\n"));
  assert.deepEqual(show([f.next()!]), ['command "a IDLE"']);
  assert.equal(f.unread, "x {5}\r\n".length);
  f.lineMode = true;
  assert.deepEqual(show([f.next()!]), ['line "x {5}"']);
  assert.equal(f.next(), null);
});

test("framer: in line mode lines are not read as literals", () => {
  const f = new CommandFramer(limits);
  f.lineMode = true;
  assert.deepEqual(show(f.push(Buffer.from("dXNlcg== {5}\r\nDONE\r\n"))), [
    'line "dXNlcg== {5}"',
    'line "DONE"',
  ]);
});

test("framer: a literal split across many chunks keeps every byte", () => {
  const body = Buffer.alloc(400);
  for (let i = 0; i < body.length; i++) body[i] = i % 256;
  const input = Buffer.concat([Buffer.from("a APPEND INBOX {400+}\r\n"), body, Buffer.from("\r\n")]);
  const f = new CommandFramer(limits);
  const events: FramerEvent[] = [];
  for (let i = 0; i < input.length; i += 7) events.push(...f.push(input.subarray(i, i + 7)));
  assert.equal(events.length, 1);
  const ev = events[0]!;
  assert.equal(ev.kind, "command");
  assert.ok(ev.kind === "command" && ev.bytes.subarray(ev.bytes.length - 400).equals(body));
});
