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
  ["an empty line is an empty command", "\r\n", ['command ""']],
  ["a line without end waits", "a NOOP", []],
];

for (const [name, input, expected] of TABLE) {
  test(`framer: ${name}`, () => {
    assert.deepEqual(allSplits(input), expected);
  });
}

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
