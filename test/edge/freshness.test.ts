// When an edge snapshot may answer, and how long a request waits for a refresh (fake clock, checks resolved by hand).
import { describe, expect, it } from 'vitest';
import { Freshness } from '../../src/edge/freshness.js';

/** Checks that finish when the test says so. */
function checks() {
  const pending: { resolve: () => void; reject: (err: Error) => void }[] = [];
  let sent = 0;
  const check = () =>
    new Promise<void>((resolve, reject) => {
      sent++;
      pending.push({ resolve, reject });
    });
  return {
    check,
    sent: () => sent,
    answer: () => pending.shift()!.resolve(),
    fail: () => pending.shift()!.reject(new Error('down')),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('Freshness', () => {
  it('answers at once while young, refreshes ahead in the background, and past the TTL waits for the refresh', async () => {
    let now = 0;
    const f = new Freshness({ ttlMs: 1000, waitMs: 60_000, clock: () => now });
    const c = checks();
    const background: Promise<unknown>[] = [];
    const bg = (p: Promise<unknown>) => void background.push(p);
    const first = f.run(c.check, () => {});
    c.answer();
    await first;
    expect(f.status().confirmedAtMs).toBe(0);

    now = 700;
    await f.beforeAnswer(c.check, () => {}, bg);
    expect(c.sent()).toBe(1);

    now = 800; // three quarters of the TTL: a check goes out, the request does not wait for it
    await f.beforeAnswer(c.check, () => {}, bg);
    expect(c.sent()).toBe(2);
    c.answer();
    await Promise.all(background.splice(0));
    expect(f.status().confirmedAtMs).toBe(800);

    now = 5_000; // idle spell: this request waits for its check
    let done = false;
    const answering = f.beforeAnswer(c.check, () => {}, bg).then(() => (done = true));
    await tick();
    expect(c.sent()).toBe(3);
    expect(done).toBe(false);
    c.answer();
    await answering;
    expect(f.status()).toMatchObject({ confirmedAtMs: 5_000, waits: 1, staleAnswers: 0 });
  });

  it('a check sent before the TTL window of a request is not enough: it sends another and waits for that', async () => {
    let now = 0;
    const f = new Freshness({ ttlMs: 1000, waitMs: 60_000, clock: () => now });
    const c = checks();
    const bg = () => {};
    const first = f.run(c.check, () => {});
    c.answer();
    await first;
    now = 800;
    await f.beforeAnswer(c.check, () => {}, bg); // ahead: sent at 800, still out
    now = 2_000; // a request 1.2 s after that check was sent: what it brings may be older than the TTL
    let done = false;
    const answering = f.beforeAnswer(c.check, () => {}, bg).then(() => (done = true));
    c.answer(); // the check sent at 800 answers
    await tick();
    await tick();
    expect(done).toBe(false);
    expect(c.sent()).toBe(3); // a new one, sent at 2000
    c.answer();
    await answering;
    expect(f.status()).toMatchObject({ confirmedAtMs: 2_000, staleAnswers: 0 });
  });

  it('answers from the old snapshot when no check answers: failures back off, and are not waited for again', async () => {
    let now = 0;
    const f = new Freshness({ ttlMs: 1000, waitMs: 300, clock: () => now, maxBackoffMs: 4000 });
    const c = checks();
    const bg = () => {};
    const first = f.run(c.check, () => {});
    c.answer();
    await first;
    now = 10_000;
    const answering = f.beforeAnswer(c.check, () => {}, bg);
    c.fail();
    await answering;
    expect(f.status()).toMatchObject({ failures: 1, staleAnswers: 1 });
    // Within the pause after a failure (one TTL, then doubling): nothing is sent, nobody waits.
    now = 10_500;
    await f.beforeAnswer(c.check, () => {}, bg);
    expect(c.sent()).toBe(2);
    now = 11_000;
    const again = f.beforeAnswer(c.check, () => {}, bg);
    await tick();
    expect(c.sent()).toBe(3);
    c.fail();
    await again;
    now = 12_500; // 1.5 s after the second failure: the pause is now 2 s
    await f.beforeAnswer(c.check, () => {}, bg);
    expect(c.sent()).toBe(3);
    expect(f.status()).toMatchObject({ failures: 2, staleAnswers: 4 });
  });
});
