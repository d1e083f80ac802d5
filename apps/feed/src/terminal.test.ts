import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ESC, RESTORE, Screen, frame } from './terminal.js';

describe('frame', () => {
  it('overwrites in place: home, each line cleared to its end, the rest of the screen cleared', () => {
    expect(frame(['ab', 'c'], 10)).toBe(
      `${ESC.syncStart}${ESC.home}ab${ESC.clearToEol}\r\nc${ESC.clearToEol}${ESC.resetStyle}${ESC.clearBelow}${ESC.syncEnd}`,
    );
  });

  it('never erases a full-width line, colour codes not counting toward the width', () => {
    const text = frame(['\x1b[32mabcd\x1b[39m', 'abc'], 4);
    expect(text).toContain('\x1b[32mabcd\x1b[39m\r\n');
    expect(text).toContain(`abc${ESC.clearToEol}`);
  });

  it('never erases the whole screen, so nothing flickers', () => {
    expect(frame(['x'], 80)).not.toContain(ESC.clearScreen);
  });
});

/** A terminal that records what is written to it. */
function fakeTerminal() {
  const written: string[] = [];
  const raw: boolean[] = [];
  const stdout = Object.assign(new EventEmitter(), {
    columns: 40,
    rows: 10,
    write: (s: string) => written.push(s) > 0,
  });
  const stdin = Object.assign(new EventEmitter(), {
    isTTY: true,
    setRawMode: (on: boolean) => raw.push(on),
    setEncoding: () => undefined,
    resume: () => undefined,
    pause: () => undefined,
  });
  const screen = new Screen({ stdout: stdout as unknown as NodeJS.WriteStream, stdin: stdin as unknown as NodeJS.ReadStream });
  return { screen, written, raw, stdin };
}

describe('Screen', () => {
  it('takes the alternate screen and hides the cursor, then gives both back once', () => {
    const t = fakeTerminal();
    t.screen.enter(() => undefined);
    expect(t.written[0]).toBe(`${ESC.altScreenOn}${ESC.hideCursor}${ESC.clearScreen}`);
    expect(t.raw).toEqual([true]);
    t.screen.restore();
    t.screen.restore();
    expect(t.written.at(-1)).toBe(RESTORE);
    expect(t.written.filter((w) => w === RESTORE)).toHaveLength(1);
    expect(RESTORE).toBe('\x1b[0m\x1b[?25h\x1b[?1049l');
    expect(t.raw).toEqual([true, false]);
  });

  it('writes a frame only when it differs from the one on screen', () => {
    const t = fakeTerminal();
    t.screen.enter(() => undefined);
    t.screen.draw(['a']);
    t.screen.draw(['a']);
    t.screen.draw(['b']);
    expect(t.written).toHaveLength(3);
    t.screen.invalidate();
    t.screen.draw(['b']);
    expect(t.written).toHaveLength(5);
  });

  it('draws nothing before it has the terminal or after giving it back', () => {
    const t = fakeTerminal();
    t.screen.draw(['a']);
    t.screen.restore();
    expect(t.written).toEqual([]);
  });

  it('hands keys to the feed', () => {
    const t = fakeTerminal();
    const keys: string[] = [];
    t.screen.enter((k) => keys.push(k));
    t.stdin.emit('data', '\x03');
    expect(keys).toEqual(['\x03']);
  });
});
