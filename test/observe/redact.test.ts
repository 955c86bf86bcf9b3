import { REDACTED, isSecretName, redactHeaders, redactReplacer, redactUrl } from '../../src/observe/redact';

describe('redact', () => {
  it('secret-looking names, case-insensitively', () => {
    for (const n of ['Authorization', 'proxy-authorization', 'Cookie', 'Set-Cookie', 'X-Api-Key', 'x-auth-token', 'client_secret', 'PASSWORD', 'passwd', 'X-Session'])
      expect([n, isSecretName(n)]).toEqual([n, true]);
    for (const n of ['Host', 'User-Agent', 'Accept', 'X-Region', 'Content-Type']) expect([n, isSecretName(n)]).toEqual([n, false]);
  });

  it('header maps of strings or lists keep their names', () => {
    expect(redactHeaders({ Authorization: ['Bearer a', 'Bearer b'], Host: ['h'] })).toEqual({ Authorization: [REDACTED, REDACTED], Host: ['h'] });
    expect(redactHeaders({ 'X-Token': 't', Accept: 'json' })).toEqual({ 'X-Token': REDACTED, Accept: 'json' });
  });

  it('URLs: the password of the user info and secret query parameters', () => {
    expect(redactUrl('https://bob:hunter2@hooks.example/x?api_key=k1&team=ops#frag')).toBe(`https://bob:${REDACTED}@hooks.example/x?api_key=${REDACTED}&team=ops#frag`);
    expect(redactUrl('/health?Token=abc&x')).toBe(`/health?Token=${REDACTED}&x`);
    expect(redactUrl('/health?%74oken=abc')).toBe(`/health?%74oken=${REDACTED}`); // "%74oken" is "token"
    expect(redactUrl('/health')).toBe('/health');
    expect(redactUrl('http://bob@host/')).toBe('http://bob@host/');
    expect(redactUrl('/h?%=1')).toBe('/h?%=1'); // a malformed escape does not throw
  });

  it('the JSON replacer catches what a view forgets', () => {
    const text = JSON.stringify(
      { webhooks: [{ url: 'http://u:p@h/?secret=s', headers: { Authorization: 'Bearer x', 'X-Team': 'ops' } }], http_token: 'tok', name: 'n', weights: { keyring: 2 } },
      redactReplacer,
    );
    expect(JSON.parse(text)).toEqual({
      webhooks: [{ url: `http://u:${REDACTED}@h/?secret=${REDACTED}`, headers: { Authorization: REDACTED, 'X-Team': 'ops' } }],
      http_token: REDACTED,
      name: 'n',
      weights: { keyring: 2 }, // numbers under secret-looking names are not credentials
    });
  });
});
