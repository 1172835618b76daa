// The official MCP TypeScript SDK client as a desktop application runs it: an in-memory
// OAuthClientProvider (dynamic registration, PKCE, tokens kept in memory) and a helper that
// starts a stack (tests/lib/harness.mjs) and signs the client in as alice, approving every
// permission the consent page offers. Used by the tool-family e2e tests.
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
 * A stack (with `nextcloudOptions` for its Nextcloud stand-in) and an SDK client named `name`
 * signed in through it: the first connect is refused (401), the authorization runs, the second
 * connect succeeds. → { stack, client, provider }.
 */
export async function signedInClient({ name, redirect, clientName = `MCP TypeScript SDK e2e (${name})`, nextcloudOptions = {} }) {
  const stack = await startStack({ nextcloudOptions });
  const provider = new MemoryProvider({ redirect, clientName });
  const url = new URL(stack.mcpServers[0].url);
  const client = new Client({ name, version: '1.0.0' });
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await assert.rejects(client.connect(first), UnauthorizedError);
  const run = await completeAuthorization(provider.authorizationUrl, redirect);
  assert.ok(run.query.code, `authorization answered ${run.redirect}`);
  await first.finishAuth(run.query.code);
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return { stack, client, provider };
}

/** The text of a tool result's content blocks. */
export const textOf = (result) => result.content.map((c) => c.text).join('');
