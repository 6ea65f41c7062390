import { describe, expect, it } from 'vitest';
import { classifyPreOpenFailure, tokenExpiry } from './refusal.js';

const NOW = Date.UTC(2026, 0, 1);
const jwt = (payload: object) => `eyJhbGciOiJIUzI1NiJ9.${btoa(JSON.stringify(payload)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')}.sig`;
const fresh = jwt({ sub: 'a', exp: NOW / 1000 + 3600 });
const base = { closedBeforeOpen: true, edgeAnswered: false, token: fresh, now: NOW };

describe('classifyPreOpenFailure', () => {
  it('reads a 401 or 403 from the ws package\'s error message as a refused token', () => {
    expect(classifyPreOpenFailure({ ...base, errorMessage: 'Unexpected server response: 401' })).toMatchObject({ kind: 'token-refused', status: 401 });
    expect(classifyPreOpenFailure({ ...base, errorMessage: 'Unexpected server response: 403' })).toMatchObject({ kind: 'token-refused', status: 403 });
  });

  it('counts other statuses and network errors as transient', () => {
    expect(classifyPreOpenFailure({ ...base, errorMessage: 'Unexpected server response: 429' }).kind).toBe('transient');
    expect(classifyPreOpenFailure({ ...base, errorMessage: 'connect ECONNREFUSED 127.0.0.1:1', edgeAnswered: true }).kind).toBe('transient');
  });

  it('takes a token past its exp as refused even where the status is hidden', () => {
    const expired = jwt({ exp: NOW / 1000 - 1 });
    expect(classifyPreOpenFailure({ ...base, token: expired })).toMatchObject({ kind: 'token-refused', detail: expect.stringContaining('expired at 2025-12-31T23:59:59') });
  });

  it('calls a silent close before open hidden only when the edge answered in the same attempt', () => {
    expect(classifyPreOpenFailure({ ...base, edgeAnswered: true }).kind).toBe('hidden');
    expect(classifyPreOpenFailure({ ...base, edgeAnswered: false }).kind).toBe('transient');
    // The client gave up on a slow handshake: not a refusal.
    expect(classifyPreOpenFailure({ ...base, edgeAnswered: true, closedBeforeOpen: false }).kind).toBe('transient');
  });
});

describe('tokenExpiry', () => {
  it('reads exp from a JWT without verifying it, and nothing from what is not one', () => {
    expect(tokenExpiry(jwt({ exp: 1767225600 }))).toBe(1767225600);
    expect(tokenExpiry(jwt({ sub: 'no-exp' }))).toBeUndefined();
    expect(tokenExpiry('opaque-token')).toBeUndefined();
    expect(tokenExpiry('a.%%%.c')).toBeUndefined();
  });
});
