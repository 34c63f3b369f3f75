import { globMatch, globMatches } from '../../lambdas/core/glob';
import { principalMatches } from '../../lambdas/core/events-ingress';

describe('glob matching (eventsIamPrincipals): * stands for any run of characters, without backtracking', () => {
  // The attack: an operator's pattern with 8 `*`, a 64-character session name the caller chose that
  // matches none of it. As a regular expression (`.*` per `*`) this took 38–48 s per request.
  const pattern = 'arn:aws:sts::123456789012:assumed-role/publisher/*-*-*-*-*-*-*-*-ok';
  const arn = `arn:aws:sts::123456789012:assumed-role/publisher/${'-'.repeat(64)}`;

  it('refuses a long name that matches none of a pattern with many *, in at most pattern × name comparisons', () => {
    const { matches, comparisons } = globMatch(pattern, arn);
    expect(matches).toBe(false);
    expect(comparisons).toBeLessThanOrEqual(pattern.length * (arn.length + 1));
    expect(principalMatches([pattern], arn)).toBe(false);
  });

  it('keeps the bound for 64 * against a name of 4,096 characters', () => {
    const many = `${'a*'.repeat(64)}b`;
    const name = 'a'.repeat(4096);
    const { matches, comparisons } = globMatch(many, name);
    expect(matches).toBe(false);
    expect(comparisons).toBeLessThanOrEqual(many.length * (name.length + 1));
  });

  it('matches as the pattern read as a regular expression does, for every short pattern and name', () => {
    // Every pattern of up to 5 characters over a, b, * against every name of up to 5 over a, b.
    const words = (alphabet: string[], upTo: number): string[] => {
      const all = [''];
      for (let length = 1, last = ['']; length <= upTo; length++) {
        last = last.flatMap((word) => alphabet.map((letter) => word + letter));
        all.push(...last);
      }
      return all;
    };
    const names = words(['a', 'b'], 5);
    for (const candidate of words(['a', 'b', '*'], 5)) {
      const reference = new RegExp(`^${candidate.split('*').join('.*')}$`);
      for (const name of names) expect([candidate, name, globMatches(candidate, name)]).toEqual([candidate, name, reference.test(name)]);
    }
  });

  it('takes only * as special: regular expression characters match themselves', () => {
    expect(globMatches('arn:aws:iam::1:user/a.b+(c)', 'arn:aws:iam::1:user/a.b+(c)')).toBe(true);
    expect(globMatches('arn:aws:iam::1:user/a.b', 'arn:aws:iam::1:user/aXb')).toBe(false);
    expect(globMatches('ab*ba', 'aba')).toBe(false);
    expect(globMatches('ab*ba', 'abba')).toBe(true);
  });
});
