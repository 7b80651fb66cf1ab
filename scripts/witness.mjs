#!/usr/bin/env node
// A small witness (c2sp.org/tlog-witness, in spirit): fetches a tenant's latest checkpoint, checks it
// is signed by the log's key inside that key's window, checks it is consistent with the last
// checkpoint this witness cosigned (RFC 9162 consistency proof), and only then cosigns it
// (c2sp.org/tlog-cosignature) and posts the cosignature back. It refuses, exit 1, a checkpoint that
// is smaller than the last one (rollback) or not consistent with it (a split view), and keeps no
// state but the last cosigned size and root per origin.
//
//   node scripts/witness.mjs --url URL --token TOKEN --key witness.pem --name NAME --state state.json
//        [--log-jwks keys.json] [--log-name logserver]
//
// --log-jwks pins the log's keys (a JWKS as GET /api/v1/integrity/keys serves it); without it the
// keys are fetched from the server, which a witness should only do the first time.
// Print the witness's verifier key for INTEGRITY_WITNESS_KEYS: node scripts/witness.mjs vkey --key witness.pem --name NAME
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkCheckpointNote, cosignatureLine, fromHex, rawOf, verifierKeyOf, verifyConsistency } from './tlog.mjs';

class Refusal extends Error {}
class UsageError extends Error {}

async function getJson(url, token) {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** One witnessing round; returns what it did, throws Refusal when the log misbehaved. */
export async function witness({ url, token, privateKey, name, statePath, jwks, logName = 'logserver', now = () => Date.now() }) {
  const keys = jwks ?? (await getJson(`${url}/api/v1/integrity/keys`, token));
  const latest = (await getJson(`${url}/api/v1/integrity/checkpoints/latest`, token)).data;
  const checked = checkCheckpointNote(latest.note, keys, logName);
  if ('problem' in checked) throw new Refusal(`the latest checkpoint does not verify: ${checked.problem}`);
  const { origin, size, root } = checked.checkpoint;
  const state = existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : {};
  const last = state[origin];
  if (last) {
    const lastRoot = Buffer.from(last.root, 'hex');
    if (size < last.size) throw new Refusal(`rollback: ${origin} is at size ${size}, this witness cosigned size ${last.size}`);
    if (size === last.size && !root.equals(lastRoot))
      throw new Refusal(`split view: ${origin} at size ${size} has root ${root.toString('hex')}, this witness cosigned ${last.root}`);
    if (size > last.size) {
      const proof = (await getJson(`${url}/api/v1/integrity/consistency?from=${last.size}&to=${size}`, token)).data;
      if (!verifyConsistency(last.size, size, lastRoot, root, fromHex(proof.proof)))
        throw new Refusal(`split view: ${origin} at size ${size} is not consistent with size ${last.size} that this witness cosigned`);
    }
  }
  const line = cosignatureLine(name, privateKey, checked.body, BigInt(Math.floor(now() / 1000)));
  const posted = await fetch(`${url}/api/v1/integrity/checkpoints/${size}/cosignatures`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ cosignature: line }),
  });
  if (!posted.ok) throw new Error(`the server refused the cosignature: ${posted.status} ${await posted.text()}`);
  state[origin] = { size, root: root.toString('hex') };
  writeFileSync(statePath, `${JSON.stringify(state, null, 2)}\n`);
  return { status: 'cosigned', origin, size, root: root.toString('hex'), previous: last?.size ?? null };
}

async function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      key: { type: 'string' },
      name: { type: 'string' },
      state: { type: 'string' },
      'log-jwks': { type: 'string' },
      'log-name': { type: 'string', default: 'logserver' },
    },
  });
  if (!values.key || !values.name) throw new UsageError('needs --key (an Ed25519 private key PEM) and --name');
  const privateKey = createPrivateKey(readFileSync(values.key, 'utf8'));
  if (positionals[0] === 'vkey') {
    process.stdout.write(`${verifierKeyOf(values.name, 4, rawOf(createPublicKey(privateKey)))}\n`);
    return 0;
  }
  if (!values.url || !values.token || !values.state) throw new UsageError('needs --url, --token (auditor) and --state');
  const result = await witness({
    url: values.url.replace(/\/$/, ''),
    token: values.token,
    privateKey,
    name: values.name,
    statePath: values.state,
    jwks: values['log-jwks'] ? JSON.parse(readFileSync(values['log-jwks'], 'utf8')) : undefined,
    logName: values['log-name'],
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stdout.write(`${JSON.stringify({ status: error instanceof Refusal ? 'refused' : 'error', reason: error.message })}\n`);
      process.exit(error instanceof UsageError ? 2 : 1);
    },
  );
}
