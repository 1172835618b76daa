// The official MCP TypeScript SDK client as a desktop application runs it: an in-memory
// OAuthClientProvider (dynamic registration, PKCE, tokens kept in memory), signIn (a client
// signed in as alice on a running stack, some scopes optionally unticked on the consent page),
// signedInClient (a new stack from tests/lib/harness.mjs and a client signed in, every
// permission approved), and callOk/callRefused (a tool call that must succeed → its JSON answer,
// or must fail → its error text). Used by the tool-family e2e tests.
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startStack, completeAuthorization } from './harness.mjs';

/** An OAuthClientProvider keeping everything in memory; `redirect` is its loopback callback. */
export class MemoryProvider {
  constructor({ redirect, clientName }) {
    this.redirect = redirect;
    this.clientName = clientName;
    this.client = undefined; this.saved = undefined; this.verifier = undefined; this.authorizationUrl = undefined;
  }
  get redirectUrl() { return this.redirect; }
  get clientMetadata() {
    return {
      client_name: this.clientName,
      redirect_uris: [this.redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this.saved; }
  saveTokens(tokens) { this.saved = tokens; }
  redirectToAuthorization(url) { this.authorizationUrl = url; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
}

/**
 * Signs a further SDK client named `name` in on a running `stack` (its first MCP server): the
 * first connect is refused (401), the authorization runs as alice, approving every permission the
 * consent page offers except the scopes in `untick` (e.g. ['tasks:write']: their `grant.<scope>`
 * boxes are left unticked), the second connect succeeds. → { client, provider, run }.
 */
export async function signIn(stack, { name, redirect, clientName = `MCP TypeScript SDK e2e (${name})`, untick = [] }) {
  const provider = new MemoryProvider({ redirect, clientName });
  const url = new URL(stack.mcpServers[0].url);
  const client = new Client({ name, version: '1.0.0' });
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await assert.rejects(client.connect(first), UnauthorizedError);
  assert.ok(provider.authorizationUrl, 'the SDK asked to open the authorization page');
  const options = untick.length ? { fields: Object.fromEntries(untick.map((s) => [`grant.${s}`, null])) } : undefined;
  const run = await completeAuthorization(provider.authorizationUrl, redirect, options);
  assert.ok(run.query.code, `authorization answered ${run.redirect}`);
  await first.finishAuth(run.query.code);
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return { client, provider, run };
}

/**
 * A stack (with `nextcloudOptions` for its Nextcloud stand-in) and an SDK client named `name`
 * signed in through it (signIn, every permission approved). → { stack, client, provider }.
 */
export async function signedInClient({ name, redirect, clientName = `MCP TypeScript SDK e2e (${name})`, nextcloudOptions = {} }) {
  const stack = await startStack({ nextcloudOptions });
  const { client, provider } = await signIn(stack, { name, redirect, clientName });
  return { stack, client, provider };
}

/** The text of a tool result's content blocks. */
export const textOf = (result) => result.content.map((c) => c.text).join('');

/**
 * Calls tool `name` with `args` on `client`; the call must succeed (isError false). Its text must
 * be JSON; → that JSON value (deep-equal to structuredContent when that is checked). `structured` says what is checked of result.structuredContent:
 *   'required' (default): it must be sent and deep-equal the JSON text (tools with an outputSchema);
 *   'ifPresent': if sent, it must deep-equal the JSON text;
 *   false: not looked at (files written before the output schemas).
 */
export async function callOk(client, name, args, { structured = 'required' } = {}) {
  const result = await client.callTool({ name, arguments: args });
  assert.equal(result.isError, false, `${name} failed: ${textOf(result)}`);
  const value = JSON.parse(textOf(result));
  if (structured === 'required' || (structured === 'ifPresent' && result.structuredContent !== undefined)) {
    assert.deepEqual(result.structuredContent, value, `${name}: structuredContent is the JSON text`);
  }
  return value;
}

/** Calls tool `name` with `args` on `client`; the call must fail as a tool error (isError true). → its error text. */
export async function callRefused(client, name, args) {
  const result = await client.callTool({ name, arguments: args });
  assert.equal(result.isError, true, `${name} should have failed but answered ${textOf(result)}`);
  return textOf(result);
}
