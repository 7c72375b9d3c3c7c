#!/usr/bin/env node
// check.mjs: a second opinion on Keiyaku's AsyncAPI contracts.
//
// Usage: node check.mjs [--timeout=SECONDS] FILE...
//
// For each AsyncAPI document it
//   1. follows the document's relative $refs to other YAML files and refuses
//      a $ref to a URL or an absolute path (nothing is fetched);
//   2. parses the document with the reference parser (@asyncapi/parser) with
//      the Avro schema parser registered, and prints every diagnostic;
//   3. compiles, with avsc, every .avsc file of each folder that an Avro
//      payload ($ref to an .avsc or .json file) points into, and the .json
//      files pointed to: @asyncapi/parser 3 does
//      not validate Avro schemas of AsyncAPI 3 documents, and named types
//      may live in other files of the folder, which avsc resolves through
//      one registry per folder.
//
// Each document is checked in a worker thread that is stopped after
// --timeout seconds (default 60): the reference parser spins forever on
// some inputs, such as a cycle of $refs.
//
// Each problem prints as "file[:line:col]: severity: message". Exit status:
// 0 when no document has an error (warnings and infos are printed, not
// fatal), 1 when one has, 2 on bad usage.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Parser, fromFile } from '@asyncapi/parser';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';
import avsc from 'avsc';
import yaml from 'js-yaml';

const severities = ['error', 'warning', 'info', 'hint'];
const avroFormat = /^application\/vnd\.apache\.avro(\+json|\+yaml)?;version=/;

function shown(file) {
  return relative(process.cwd(), resolve(file)) || file;
}

// scan reads a YAML file and every YAML file its $refs reach. It returns the
// problems found and adds the .avsc files that Avro payloads point to.
function scan(file, seen, avroFiles) {
  const problems = [];
  const abs = resolve(file);
  if (seen.has(abs)) return problems;
  seen.add(abs);
  let doc;
  try {
    doc = yaml.load(readFileSync(abs, 'utf8'), { filename: file });
  } catch (e) {
    return [`${shown(file)}: error: ${e.message.split('\n')[0]}`];
  }
  const walk = (v, avro) => {
    if (Array.isArray(v)) {
      v.forEach((x) => walk(x, false));
      return;
    }
    if (v === null || typeof v !== 'object') return;
    if (typeof v.$ref === 'string') {
      const [target] = v.$ref.split('#');
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        problems.push(`${shown(file)}: error: $ref "${v.$ref}" points to a remote document: refused`);
      } else if (isAbsolute(target)) {
        problems.push(`${shown(file)}: error: $ref "${v.$ref}" is an absolute path: refused`);
      } else if (target !== '') {
        const next = join(dirname(abs), target);
        if (avro || next.endsWith('.avsc')) avroFiles.add(next);
        else problems.push(...scan(next, seen, avroFiles));
      }
      return;
    }
    const isAvro = typeof v.schemaFormat === 'string' && avroFormat.test(v.schemaFormat.replace(/\s+/g, ''));
    for (const [k, x] of Object.entries(v)) walk(x, isAvro && k === 'schema');
  };
  walk(doc, false);
  return problems;
}

// compileFolders compiles every .avsc file of the folders of avroFiles with
// avsc, one registry per folder, parsing the files in as many passes as
// their references to each other need.
function compileFolders(avroFiles) {
  const problems = [];
  const folders = [...new Set([...avroFiles].map((f) => dirname(f)))].sort();
  for (const folder of folders) {
    let pending;
    try {
      pending = readdirSync(folder).filter((n) => n.endsWith('.avsc')).sort().map((n) => join(folder, n));
    } catch (e) {
      problems.push(`${shown(folder)}: error: ${e.message}`);
      continue;
    }
    for (const f of avroFiles) {
      if (dirname(f) !== folder || pending.includes(f)) continue;
      // An Avro schema kept in a file of another extension (.json) is
      // compiled with the .avsc files of its folder; reading it reports a
      // missing one.
      if (f.endsWith('.avsc')) problems.push(`${shown(f)}: error: file not found`);
      else pending.push(f);
    }
    const schemas = new Map();
    for (const f of pending) {
      try {
        schemas.set(f, JSON.parse(readFileSync(f, 'utf8')));
      } catch (e) {
        problems.push(`${shown(f)}: error: ${e.message}`);
      }
    }
    pending = pending.filter((f) => schemas.has(f));
    let registry = {};
    const errors = new Map();
    for (let progress = true; progress && pending.length > 0;) {
      progress = false;
      for (const f of [...pending]) {
        const attempt = { ...registry };
        try {
          avsc.Type.forSchema(schemas.get(f), { registry: attempt });
          registry = attempt;
          pending = pending.filter((p) => p !== f);
          progress = true;
        } catch (e) {
          errors.set(f, e.message);
        }
      }
    }
    for (const f of pending) problems.push(`${shown(f)}: error: avro: ${errors.get(f)}`);
  }
  return problems;
}

function location(file, d) {
  // Diagnostics on a referenced file name it in source (a path or URL).
  let src = d.source ? String(d.source) : file;
  if (src.startsWith('file://')) src = fileURLToPath(src);
  const start = d.range && d.range.start;
  return start ? `${shown(src)}:${start.line + 1}:${start.character + 1}` : shown(src);
}

// check checks one document, pushing its output lines to out, and returns
// its error count.
async function check(parser, file, out) {
  const avroFiles = new Set();
  const refProblems = scan(file, new Set(), avroFiles);
  if (refProblems.length > 0) {
    out.push(...refProblems);
    return refProblems.length;
  }
  const { document, diagnostics } = await fromFile(parser, file).parse();
  let errors = 0;
  for (const d of diagnostics) {
    if (d.severity === 0) errors++;
    const severity = severities[d.severity] ?? String(d.severity);
    const path = d.path && d.path.length ? ` (at ${d.path.join('.')})` : '';
    out.push(`${location(file, d)}: ${severity}: ${d.message}${path} [${d.code}]`);
  }
  if (document === undefined && errors === 0) {
    out.push(`${shown(file)}: error: the parser returned no document`);
    errors++;
  }
  const avroProblems = compileFolders(avroFiles);
  out.push(...avroProblems);
  return errors + avroProblems.length;
}

// worker is the body of a worker thread: it checks workerData.file.
async function worker() {
  const parser = new Parser();
  parser.registerSchemaParser(AvroSchemaParser());
  const out = [];
  let errors;
  try {
    errors = await check(parser, workerData.file, out);
  } catch (e) {
    out.push(`${shown(workerData.file)}: error: ${e && e.message ? e.message : e}`);
    errors = 1;
  }
  parentPort.postMessage({ out, errors });
}

// run checks file in a worker thread, stopping it after timeout ms.
function run(file, timeout) {
  return new Promise((done) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { file } });
    const timer = setTimeout(() => {
      w.terminate();
      done({ out: [`${shown(file)}: error: no answer within ${timeout / 1000}s (the reference parser loops on some inputs, e.g. a cycle of $refs)`], errors: 1 });
    }, timeout);
    w.once('message', (m) => {
      clearTimeout(timer);
      done(m);
    });
    w.once('error', (e) => {
      clearTimeout(timer);
      done({ out: [`${shown(file)}: error: ${e && e.message ? e.message : e}`], errors: 1 });
    });
  });
}

async function main(args) {
  let timeout = 60_000;
  const files = [];
  for (const a of args) {
    const m = /^--timeout=(\d+)$/.exec(a);
    if (m) timeout = Number(m[1]) * 1000;
    else if (a.startsWith('-')) return usage();
    else files.push(a);
  }
  if (files.length === 0 || timeout <= 0) return usage();
  let failed = 0;
  for (const file of files) {
    const { out, errors } = await run(file, timeout);
    out.forEach((line) => console.log(line));
    if (errors > 0) failed++;
    console.log(`${shown(file)}: ${errors === 0 ? 'ok' : `${errors} error(s)`}`);
  }
  return failed > 0 ? 1 : 0;
}

function usage() {
  console.error('usage: node check.mjs [--timeout=SECONDS] FILE...');
  return 2;
}

if (isMainThread) {
  process.exitCode = await main(process.argv.slice(2));
} else {
  await worker();
}
