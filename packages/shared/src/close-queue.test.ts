import { describe, expect, it } from 'vitest';
import { CloseJobError, closeJobSchema, parseCloseJob } from './close-queue.js';
import { Keys } from './keys.js';

describe('the close queue contract', () => {
  it('takes a run over every period or over one period chain', () => {
    expect(parseCloseJob({})).toEqual({});
    expect(parseCloseJob({ periodMs: 60_000 })).toEqual({ periodMs: 60_000 });
  });
  it('refuses anything else, saying what is wrong', () => {
    for (const bad of [null, 'all', { all: true }, { periodMs: -1 }, { periodMs: 1.5 }, { periodMs: '60000' }]) {
      expect(() => parseCloseJob(bad), JSON.stringify(bad)).toThrow(CloseJobError);
    }
    expect(() => parseCloseJob({ all: true })).toThrow(/not a close job: .*all/);
    expect(closeJobSchema.safeParse({ periodMs: 0 }).success).toBe(false);
  });
  it("keeps a queue's keys under one hash tag, inside the deployment's prefix", () => {
    expect(new Keys('cs').bullPrefix('close')).toBe('cs:bull:{close}');
  });
});
