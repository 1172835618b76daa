// What every tool tells a client besides its input: annotations, outputSchema with
// structuredContent, and capability gating, seen through the official MCP TypeScript SDK client.
// The SDK itself validates every structuredContent against the tool's outputSchema (Ajv) and
// refuses an answer without structuredContent from a tool that declares one, so a call that
// resolves here is a validated one. A second stack runs a Nextcloud without the Notes app
// (the stand-in's `apps: { notes: false }`): the notes tools are hidden for that user, and
// calling one anyway says which app is missing.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll } from '../lib/harness.mjs';
import { signedInClient, textOf } from '../lib/sdk-client.mjs';

const REDIRECT = 'http://127.0.0.1:17997/oauth/callback';

/** A stack and an SDK client (alice) signed in with every permission the consent page offers. */
const signedIn = (nextcloudOptions = {}) => signedInClient({ name: 'e2e-ts-tool-meta', clientName: 'MCP TypeScript SDK e2e (tool metadata)', redirect: REDIRECT, nextcloudOptions });

afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });
after(async () => { await stopAll(); });

describe('a Nextcloud with every app', () => {
  let stack;
  let client;
  before(async () => { ({ stack, client } = await signedIn()); });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('every tool is annotated; writes are not read-only; those that reach other people say so', async () => {
    const { tools } = await client.listTools();
    assert.ok(tools.length >= 27, `${tools.length} tools`);
    for (const tool of tools) {
      const a = tool.annotations;
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) {
        assert.equal(typeof a?.[hint], 'boolean', `${tool.name} ${hint}`);
      }
      assert.ok(!(a.readOnlyHint && a.destructiveHint), tool.name);
      if (a.openWorldHint) {
        assert.equal(a.readOnlyHint, false, tool.name);
        assert.match(tool.description, /other people/, tool.name);
      }
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    assert.equal(byName.files_delete.annotations.destructiveHint, true);
    assert.equal(byName.files_copy.annotations.destructiveHint, true, 'overwrite=true replaces the destination');
    assert.equal(byName.notes_create.annotations.readOnlyHint, false);
    assert.equal(byName.notes_list.annotations.readOnlyHint, true);
  });

  test('data results come as structuredContent that validates against the outputSchema', async () => {
    const { tools } = await client.listTools(); // the SDK keeps a validator per outputSchema
    const withSchema = tools.filter((t) => t.outputSchema).map((t) => t.name).sort();
    assert.deepEqual(withSchema, [
      'calendar_create_calendar',
      'calendar_freebusy',
      'calendar_list_calendars',
      'calendar_update_calendar',
      'contacts_create',
      'contacts_create_addressbook',
      'contacts_get',
      'contacts_list_addressbooks',
      'contacts_search',
      'contacts_update',
      'deck_assign',
      'deck_comment',
      'deck_create',
      'deck_delete',
      'deck_get_board',
      'deck_get_card',
      'deck_list_boards',
      'deck_update_card',
      'fetch',
      'files_list',
      'files_read',
      'files_tag',
      'files_tags_list',
      'files_trash_list',
      'files_trash_restore',
      'files_versions_list',
      'notes_list',
      'search',
      'sharing_create',
      'sharing_list',
      'sharing_update',
      'talk_create_conversation',
      'talk_list_conversations',
      'talk_read_messages',
      'talk_send_message',
      'tasks_create',
      'tasks_delete',
      'tasks_list',
      'tasks_update',
      'whoami',
    ]);
    for (const t of tools.filter((x) => x.outputSchema)) assert.equal(t.outputSchema.type, 'object', t.name);

    // Something in each list, so that the item schemas are exercised too.
    const note = await client.callTool({ name: 'notes_create', arguments: { title: 'Structured', content: 'x', category: 'Work' } });
    assert.equal(note.isError, false, textOf(note));
    assert.equal(note.structuredContent, undefined, 'no outputSchema, no structuredContent');
    const file = await client.callTool({ name: 'files_write', arguments: { path: '/meta.txt', content: 'hello' } });
    assert.equal(file.isError, false, textOf(file));
    await client.callTool({ name: 'files_mkdir', arguments: { path: '/Meta folder' } });

    const calls = {
      whoami: {},
      notes_list: {},
      files_list: { path: '/' },
      calendar_list_calendars: {},
      contacts_list_addressbooks: {},
    };
    for (const [name, args] of Object.entries(calls)) {
      const result = await client.callTool({ name, arguments: args }); // rejects if invalid
      assert.equal(result.isError, false, `${name}: ${textOf(result)}`);
      assert.ok(result.structuredContent, name);
      assert.deepEqual(JSON.parse(textOf(result)), result.structuredContent, `${name}: the text block carries the same JSON`);
    }
    const who = (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent;
    assert.equal(who.user.id, 'alice');
    assert.ok(who.scopes.includes('talk:write') && who.scopes.includes('tasks:read'), who.scopes.join(' '));
    const notes = (await client.callTool({ name: 'notes_list', arguments: {} })).structuredContent;
    assert.deepEqual(notes.notes.map((n) => [n.title, n.category]), [['Structured', 'Work']]);
    const files = (await client.callTool({ name: 'files_list', arguments: { path: '/' } })).structuredContent;
    assert.ok(files.entries.some((e) => e.name === 'meta.txt' && e.type === 'file' && e.size === 5), JSON.stringify(files));
    assert.ok(files.entries.some((e) => e.name === 'Meta folder' && e.type === 'folder'), JSON.stringify(files));
    const calendars = (await client.callTool({ name: 'calendar_list_calendars', arguments: {} })).structuredContent;
    assert.ok(calendars.count >= 1 && calendars.calendars.length === calendars.count, JSON.stringify(calendars));
    const books = (await client.callTool({ name: 'contacts_list_addressbooks', arguments: {} })).structuredContent;
    assert.ok(books.count >= 1, JSON.stringify(books));
  });
});

describe('a Nextcloud without the Notes app', () => {
  let stack;
  let client;
  before(async () => { ({ stack, client } = await signedIn({ apps: { notes: false } })); });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('the notes tools are hidden, the rest listed; a call anyway names the missing app', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(!names.some((n) => n.startsWith('notes_')), `${names}`);
    for (const n of ['whoami', 'files_list', 'calendar_list_events', 'contacts_search']) assert.ok(names.includes(n), n);
    const asked = stack.nextcloud.state.requests.filter((r) => r.path.startsWith('/ocs/v2.php/cloud/capabilities')).length;
    assert.ok(asked >= 1, 'the capabilities were read');

    const result = await client.callTool({ name: 'notes_list', arguments: {} });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /Notes app/);
    assert.match(textOf(result), /not installed or not enabled/);
    // Remembered: neither the second listing nor the call asked again.
    await client.listTools();
    const again = stack.nextcloud.state.requests.filter((r) => r.path.startsWith('/ocs/v2.php/cloud/capabilities')).length;
    assert.equal(again, asked);
  });
});
