import { UsageError } from '../util/errors.ts';

export interface ImageRef {
  /** Registry host as written, with port (`ghcr.io`, `127.0.0.1:5000`); Docker Hub is `docker.io`. */
  registry: string;
  /** Host to talk to (Docker Hub's API lives at registry-1.docker.io). */
  apiHost: string;
  /** Repository path, e.g. `org/comfyui` (`library/x` on Docker Hub). */
  repository: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Parse an image reference as Docker does (`[host[:port]/]path[:tag][@digest]`), or say what is wrong. */
export function parseImageRef(ref: string): ImageRef {
  const bad = (why: string) => new UsageError(`invalid image reference '${ref}': ${why}`);
  if (!ref || /\s/.test(ref)) throw bad('it is empty or has white space');
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`'${digest}' is not a sha256 digest`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`'${tag}' is not a valid tag`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
    if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(registry)) throw bad(`'${registry}' is not a registry host`);
  }
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) throw bad('the repository must be lowercase letters, digits and separators (e.g. ghcr.io/org/image:tag)');
  if (!tag && !digest) tag = 'latest';
  return { registry, apiHost: registry === 'docker.io' ? 'registry-1.docker.io' : registry, repository: parts.join('/'), tag, digest };
}

export function formatRef(r: ImageRef): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}
