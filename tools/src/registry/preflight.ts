import { MegapakError } from '../util/errors.ts';
import { RegistryClient } from './client.ts';
import type { Credentials } from './credentials.ts';
import { RegistryHttp } from './http.ts';
import { formatRef, type ImageRef } from './reference.ts';
import type { RetryPolicy } from './retry.ts';

/**
 * Before any build (which can take hours): the registry answers the `/v2/` ping, and the
 * credentials get push access to the repository — an upload session is opened (which needs a
 * token for the push scope, or Basic credentials the registry accepts for writing) and
 * cancelled at once. A wrong host, port or password fails in seconds, not after the build.
 */
export async function checkPushAccess(ref: ImageRef, o: RetryPolicy & { plainHttp: boolean; credentials?: Credentials; idleTimeoutMs?: number }): Promise<void> {
  // Two quick retries: a registry that is down now is not worth the push's long backoff.
  const http = new RegistryHttp({
    registry: ref.registry,
    apiHost: ref.apiHost,
    plainHttp: o.plainHttp,
    credentials: o.credentials,
    retries: Math.min(o.retries, 2),
    backoffMs: Math.min(o.backoffMs, 250),
    idleTimeoutMs: o.idleTimeoutMs,
  });
  try {
    await new RegistryClient(ref, http).ping();
    const res = await http.request({
      method: 'POST',
      url: `/v2/${ref.repository}/blobs/uploads/`,
      headers: { 'content-length': '0' },
      scopes: [`repository:${ref.repository}:pull,push`],
    });
    await res.body?.cancel().catch(() => {});
    if (res.status === 403 || res.status === 401)
      throw new MegapakError(
        `${ref.registry} refuses push access to ${ref.repository} (HTTP ${res.status}) ${o.credentials ? `for the credentials from ${o.credentials.source}` : 'without credentials'}`,
      );
    if (res.status !== 202) throw new MegapakError(`${ref.registry} did not open an upload to ${ref.repository}: HTTP ${res.status}`);
    const location = res.headers.get('location');
    if (location)
      await http.request({ method: 'DELETE', url: new URL(location, http.base).toString(), scopes: [`repository:${ref.repository}:pull,push`], retry: false }).then(
        (r) => r.body?.cancel(),
        () => {},
      );
  } catch (err) {
    if (!(err instanceof MegapakError)) throw err;
    throw new MegapakError(`push to ${formatRef(ref)}: ${err.message}; nothing was built or pushed`, err.kind);
  }
}
