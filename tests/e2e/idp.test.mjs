// The development IdP on its own, with a throwaway OIDC client playing the auth-proxy's part:
// discovery, authorization code + PKCE through the login and consent forms, client_secret_basic,
// ID token signature and claims, userinfo, refresh token. Needs no auth-proxy binary, so a
// broken IdP shows up here rather than as a confusing proxy failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { startIdp, freePort, pkcePair, Browserless, parseForms } from '../lib/harness.mjs';

let idp; let meta; let redirectUri;

before(async () => {
  redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  idp = await startIdp({ redirectUris: [redirectUri] });
  meta = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
});

after(async () => { await idp?.stop(); });

function authorizeUrl(params) {
  const url = new URL(meta.authorization_endpoint);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: idp.clientId, redirect_uri: redirectUri, ...params })) {
    if (v !== undefined) url.searchParams.set(k, v);
  }
  return url.toString();
}

async function tokenRequest(form, secret = idp.clientSecret) {
  const res = await fetch(meta.token_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(idp.clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
    },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: await res.json() };
}

/** Logs in through the dev interaction forms; returns the query of the redirect back. */
async function login(name, params) {
  const browser = new Browserless();
  const back = (u) => u.startsWith(redirectUri);
  let step = await browser.follow(authorizeUrl(params), back);
  const pages = [];
  for (let i = 0; i < 4 && !step.stoppedAt; i += 1) {
    assert.equal(step.res.status, 200, `at ${step.url}`);
    const html = await step.res.text();
    pages.push(html);
    const isLogin = parseForms(html, step.url)[0].inputs.some((input) => input.name === 'login');
    step = await browser.submitForm(step.url, html, isLogin ? { login: name, password: 'whatever' } : {}, back);
  }
  assert.ok(step.stoppedAt, 'came back to the redirect URI');
  return { query: Object.fromEntries(new URL(step.stoppedAt).searchParams), pages };
}

test('discovery advertises what the auth-proxy relies on', () => {
  assert.equal(meta.issuer, idp.issuer);
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  assert.ok(meta.token_endpoint_auth_methods_supported.includes('client_secret_basic'));
  for (const s of ['openid', 'profile', 'email', 'offline_access']) assert.ok(meta.scopes_supported.includes(s), s);
  assert.ok(meta.id_token_signing_alg_values_supported.includes('ES256'));
});

test('scripted login: any name signs in; code + PKCE → ID token, userinfo, refresh token', async () => {
  const pkce = pkcePair();
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const { query, pages } = await login('carol', {
    scope: 'openid profile email offline_access', state, nonce,
    code_challenge: pkce.challenge, code_challenge_method: 'S256',
  });
  assert.match(pages[0], /any username and any password/, 'the login page says any login works');
  assert.equal(query.state, state);
  assert.equal(query.iss, idp.issuer);
  assert.ok(query.code);

  const wrongSecret = await tokenRequest({ grant_type: 'authorization_code', code: query.code, redirect_uri: redirectUri, code_verifier: pkce.verifier }, 'wrong');
  assert.equal(wrongSecret.status, 401);
  assert.equal(wrongSecret.body.error, 'invalid_client');

  const tokens = await tokenRequest({ grant_type: 'authorization_code', code: query.code, redirect_uri: redirectUri, code_verifier: pkce.verifier });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  assert.ok(tokens.body.access_token);
  assert.ok(tokens.body.refresh_token, 'refresh token issued (issueRefreshToken hook)');

  const jwks = createLocalJWKSet(await (await fetch(meta.jwks_uri)).json());
  const { payload, protectedHeader } = await jwtVerify(tokens.body.id_token, jwks, { issuer: idp.issuer, audience: idp.clientId });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.equal(payload.sub, 'carol');
  assert.equal(payload.nonce, nonce);

  const userinfo = await (await fetch(meta.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.body.access_token}` } })).json();
  assert.deepEqual(
    { sub: userinfo.sub, name: userinfo.name, preferred_username: userinfo.preferred_username, email: userinfo.email },
    { sub: 'carol', name: 'carol', preferred_username: 'carol', email: 'carol@example.test' },
  );

  const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  assert.ok(refreshed.body.access_token);
});

test('a refresh token comes without offline_access too; named dev accounts have names', async () => {
  const pkce = pkcePair();
  const { query } = await login('alice', { scope: 'openid profile', state: 's', code_challenge: pkce.challenge, code_challenge_method: 'S256' });
  const tokens = await tokenRequest({ grant_type: 'authorization_code', code: query.code, redirect_uri: redirectUri, code_verifier: pkce.verifier });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  assert.ok(tokens.body.refresh_token);
  const { payload } = await jwtVerify(tokens.body.id_token, createLocalJWKSet(await (await fetch(meta.jwks_uri)).json()));
  assert.equal(payload.name, 'Alice Example');
});

test('PKCE is required and checked', async () => {
  const browser = new Browserless();
  const step = await browser.follow(authorizeUrl({ scope: 'openid', state: 's' }), (u) => u.startsWith(redirectUri));
  const query = Object.fromEntries(new URL(step.stoppedAt).searchParams);
  assert.equal(query.error, 'invalid_request');
  assert.match(query.error_description, /PKCE/);

  const pkce = pkcePair();
  const { query: ok } = await login('dave', { scope: 'openid', state: 's', code_challenge: pkce.challenge, code_challenge_method: 'S256' });
  const wrong = await tokenRequest({ grant_type: 'authorization_code', code: ok.code, redirect_uri: redirectUri, code_verifier: pkcePair().verifier });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.error, 'invalid_grant');
});
