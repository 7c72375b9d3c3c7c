// Tests of check.mjs: each runs it as a user would, on real files.
// Run with: node --test tools/asyncapi-check/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const check = join(here, 'check.mjs');

function run(cwd, ...args) {
  const r = spawnSync(process.execPath, [check, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

// workspace writes files into a fresh folder and returns its path.
function workspace(files) {
  const dir = mkdtempSync(join(tmpdir(), 'asyncapi-check-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

const doc = (schemaRef) => `asyncapi: 3.0.0
info:
  title: T
  version: 1.0.0
channels:
  events:
    address: t.events.v1
    messages:
      Created:
        $ref: '#/components/messages/Created'
operations:
  sendCreated:
    action: send
    channel:
      $ref: '#/channels/events'
components:
  messages:
    Created:
      payload:
        schemaFormat: application/vnd.apache.avro;version=1.9.0
        schema:
          $ref: '${schemaRef}'
`;

const money = JSON.stringify({ type: 'record', name: 'Money', namespace: 't.v1', fields: [{ name: 'amount', type: 'string' }] });

// Pins that the repository's four contracts pass: cross-folder channel
// $refs and Avro named types across files (Money.avsc) resolve.
test('the repository contracts pass', () => {
  const files = ['reservation', 'member', 'room', 'notification'].map((s) => `contracts/${s}/v1/asyncapi.yaml`);
  const { status, out } = run(repo, ...files);
  assert.equal(status, 0, out);
  for (const f of files) assert.match(out, new RegExp(`^${f}: ok$`, 'm'));
});

// Pins that a named type of another file of the folder resolves, and that
// an unknown type fails: @asyncapi/parser alone validates neither for
// AsyncAPI 3 documents.
test('Avro schemas are compiled with their folder', () => {
  const ok = workspace({
    'asyncapi.yaml': doc('./avro/Created.avsc'),
    'avro/Money.avsc': money,
    'avro/Created.avsc': JSON.stringify({ type: 'record', name: 'Created', namespace: 't.v1', fields: [{ name: 'price', type: 't.v1.Money' }] }),
  });
  let r = run(ok, 'asyncapi.yaml');
  assert.equal(r.status, 0, r.out);
  const bad = workspace({
    'asyncapi.yaml': doc('./avro/Created.avsc'),
    'avro/Created.avsc': JSON.stringify({ type: 'record', name: 'Created', namespace: 't.v1', fields: [{ name: 'price', type: 't.v1.Mony' }] }),
  });
  r = run(bad, 'asyncapi.yaml');
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /avro\/Created\.avsc: error: avro: undefined type name: t\.v1\.Mony/);
});

// Pins that a $ref to a URL is refused before the parser could fetch it.
test('remote $refs are refused', () => {
  const dir = workspace({ 'asyncapi.yaml': doc('https://example.invalid/Created.avsc') });
  const r = run(dir, 'asyncapi.yaml');
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /points to a remote document: refused/);
});

// Pins that a document on which the reference parser loops is stopped
// and reported, not left to hang CI.
test('a $ref cycle is stopped by the timeout', () => {
  const dir = workspace({
    'asyncapi.yaml': `asyncapi: 3.0.0
info:
  title: T
  version: 1.0.0
components:
  messages:
    A:
      $ref: '#/components/messages/B'
    B:
      $ref: '#/components/messages/A'
`,
  });
  const r = run(dir, '--timeout=3', 'asyncapi.yaml');
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /no answer within 3s/);
});

// Pins the usage error.
test('no file is a usage error', () => {
  const r = run(here);
  assert.equal(r.status, 2, r.out);
  assert.match(r.out, /usage: node check\.mjs/);
});
