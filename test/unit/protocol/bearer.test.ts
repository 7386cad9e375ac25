// Bearer parsing, the one reader of `Authorization` on both servers.
import { describe, expect, it } from 'vitest';
import { bearerToken } from '../../../protocol/bearer.ts';

describe('bearerToken', () => {
  it.each([
    ['Bearer sk-abc', 'sk-abc'],
    ['bearer sk-abc', 'sk-abc'],
    ['BEARER  sk-abc  ', 'sk-abc'],
    ['Bearer a.b.c', 'a.b.c'],
  ])('reads %j as %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([
    [undefined],
    [null],
    [''],
    ['Bearer'],
    ['Bearer '],
    ['Basic dXNlcjpwdw=='],
    ['Bearer a b'],
  ])('finds no token in %j', (header) => {
    expect(bearerToken(header)).toBeUndefined();
  });
});
