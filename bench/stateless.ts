// `pnpm bench:stateless`: the fresh-CI-runner pushes of test/stateless.test.ts, timed on the
// bench stack (bench/stack, ~2.46 GB). Machine A builds with Turborepo (remote cache on
// loopback) and pushes to a loopback registry; its store paths go to a file:// binary cache
// and are deleted; clone B, with an empty blob store and that cache as its only substituter:
//   (a) nothing changed: turbo build (all remote hits) + push;
//   (b) layer 09 changed: turbo build (layers 09–12 run, their paths substituted) + push.
// The stack is salted (its own store paths), so deleting them never touches shared ones.
// Run it on an otherwise idle machine (its times are the point). Writes bench/stateless-results.json.
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO, run } from '../test/helpers/cli.ts';
import { readRecords, tempDir } from '../test/helpers/fixture.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import { startTurboRemoteCache } from '../test/helpers/servers.ts';
import { blobUploads, deleteSaltedPaths, onlySubstituter, pushToFileCache, requestsSince, saltedStack, shippedPaths, uploadedDigests } from '../test/helpers/stateless.ts';
import { TURBO, commitAll, makeFixtureWorkspace } from '../test/helpers/workspace.ts';
import { measure, type Sample } from './measure.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const MEGAPAK = join(REPO, 'tools', 'bin', 'megapak.js');
const log = (s: string) => process.stderr.write(`bench:stateless: ${s}\n`);
const secs = (s: Sample) => Number(s.seconds.toFixed(2));

async function main(): Promise<void> {
  // Everything here is scratch (the registry alone holds the 2.5 GB of blobs): removed at the end.
  const scratch: string[] = [];
  const tmp = async (prefix: string) => {
    const d = await tempDir(prefix);
    scratch.push(d);
    return d;
  };
  const { dir, salt } = await saltedStack(join(HERE, 'stack'));
  const wsA = await makeFixtureWorkspace(dir);
  scratch.push(dirname(dir), dirname(wsA));
  const turboCache = await startTurboRemoteCache(await tmp('bench-turbo'), 'bench');
  const reg = await startRegistry({ storage: join(await tmp('bench-registry'), 'data') });
  const ref = `${reg.host}/megapak/bench:ci`;
  const remote = { TURBO_API: turboCache.url, TURBO_TOKEN: 'bench', TURBO_TEAM: 'megapak', TURBO_TELEMETRY_DISABLED: '1' };
  const turbo = (ws: string, env: NodeJS.ProcessEnv) => measure(TURBO, ['run', 'build', '--filter=layer-*', '--output-logs=errors-only'], { cwd: ws, env });
  const push = (ws: string, env: NodeJS.ProcessEnv) => measure(process.execPath, [MEGAPAK, 'push', '--stack', ws, '--plain-http', ref], { env });
  const toClean = new Set<string>();
  try {
    const envA = { ...remote, NIX_CONFIG: 'substituters =', MEGAPAK_CACHE_DIR: await tmp('bench-blobs-a') };
    log(`machine A: building the salted bench stack (${salt}) and pushing it`);
    const buildA = await turbo(wsA, envA);
    const pushA = await push(wsA, envA);
    for (const p of await shippedPaths(wsA)) toClean.add(p);
    const records = await readRecords(wsA);
    const bytes = records.reduce((s, r) => s + r.narSize, 0);
    log(`A: turbo build ${secs(buildA)} s, push ${secs(pushA)} s; ${toClean.size} store paths, ${(bytes / 1e9).toFixed(2)} GB`);

    const nixCache = join(await tmp('bench-nix-cache'), 'cache');
    const copy = Date.now();
    await pushToFileCache(wsA, nixCache);
    log(`binary cache filled in ${((Date.now() - copy) / 1000).toFixed(1)} s; deleting the stack's paths from the store`);
    await deleteSaltedPaths([...toClean], salt);

    const wsB = join(await tmp('bench-runner-b'), 'ws');
    if ((await run('git', ['clone', '-q', wsA, wsB])).code !== 0) throw new Error('git clone failed');
    if ((await run('pnpm', ['install', '--offline', '--reporter=silent'], { cwd: wsB })).code !== 0) throw new Error('pnpm install failed');
    const envB = { ...remote, ...onlySubstituter(nixCache), MEGAPAK_CACHE_DIR: await tmp('bench-blobs-b') };

    log('(a) runner B, nothing changed');
    const buildAa = await turbo(wsB, envB);
    let mark = reg.log().length;
    const pushAa = await push(wsB, envB);
    const aUploads = blobUploads(requestsSince(reg, mark)).length;
    const aRead = [...toClean].filter((p) => existsSync(p)).length;

    log('(b) runner B, layer 09 changed');
    await writeFile(
      join(wsB, 'layers', '09-pak5', 'layer.nix'),
      `{ pkgs }: pkgs.layers.l09 ++ [ (pkgs.blob "python3.14-stateless-${salt}" { mib = 0.5; files = 8; deps = [ pkgs.python ]; }) ]\n`,
    );
    await commitAll(wsB, 'layer 09: one more package');
    const buildB = await turbo(wsB, envB);
    mark = reg.log().length;
    const pushB = await push(wsB, envB);
    const bUploaded = uploadedDigests(requestsSince(reg, mark));
    const substituted = [...toClean].filter((p) => existsSync(p));
    for (const r of await readRecords(wsB)) for (const p of [...r.roots, ...r.paths.map((x) => x.path)]) toClean.add(p);
    const substitutedBytes = records
      .flatMap((r) => r.paths)
      .filter((p) => substituted.includes(p.path))
      .reduce((s, p) => s + p.narSize, 0);

    const results = {
      date: new Date().toISOString().slice(0, 10),
      machine: `${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
      stack: { paths: records.flatMap((r) => r.paths).length, gigabytes: Number((bytes / 1e9).toFixed(2)) },
      machineA: { turboBuildSeconds: secs(buildA), pushSeconds: secs(pushA) },
      a: {
        turboBuildSeconds: secs(buildAa),
        pushSeconds: secs(pushAa),
        totalSeconds: secs(buildAa) + secs(pushAa),
        uploadRequests: aUploads,
        storePathsRealised: aRead,
        pushPeakRssMB: Math.round(pushAa.rssMB),
      },
      b: {
        turboBuildSeconds: secs(buildB),
        pushSeconds: secs(pushB),
        totalSeconds: secs(buildB) + secs(pushB),
        blobsUploaded: bUploaded.length,
        storePathsSubstituted: substituted.length,
        gigabytesSubstituted: Number((substitutedBytes / 1e9).toFixed(2)),
      },
    };
    await writeFile(join(HERE, 'stateless-results.json'), JSON.stringify(results, null, 2) + '\n');
    console.log(
      [
        `stateless runner on the bench stack (${results.stack.paths} paths, ${results.stack.gigabytes} GB), ${results.machine}, ${results.date}`,
        `machine A (cold): turbo build ${results.machineA.turboBuildSeconds} s, push ${results.machineA.pushSeconds} s`,
        `(a) nothing changed: turbo build ${results.a.turboBuildSeconds} s + push ${results.a.pushSeconds} s = ${results.a.totalSeconds.toFixed(2)} s; ${aUploads} upload requests, ${aRead} store paths realised`,
        `(b) layer 09 changed: turbo build ${results.b.turboBuildSeconds} s + push ${results.b.pushSeconds} s = ${results.b.totalSeconds.toFixed(2)} s; ${bUploaded.length} blobs uploaded, ${substituted.length} store paths (${results.b.gigabytesSubstituted} GB) substituted`,
      ].join('\n'),
    );
  } finally {
    await Promise.all([turboCache.stop(), reg.stop()]);
    const present = [...toClean].filter((p) => existsSync(p));
    if (present.length) await deleteSaltedPaths(present, salt);
    for (const d of scratch) await rm(d, { recursive: true, force: true });
  }
}

await main();
