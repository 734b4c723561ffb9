// What a hub id and a revision may look like, and where a verified download of them lives in the cache.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface HubId {
  readonly org: string;
  readonly name: string;
  /** `org/name`, as the hub spells it in URLs. */
  readonly id: string;
}

// The hub's own rule for repo names (huggingface_hub's validate_repo_id), minus the 96-char detail
// being checked separately. Forbidding `--` also keeps cache folders loadable by transformers.js.
const SEGMENT = /^[A-Za-z0-9_.-]+$/;
const MAX_SEGMENT = 96;

function validSegment(segment: string): boolean {
  return (
    SEGMENT.test(segment) &&
    segment.length <= MAX_SEGMENT &&
    !segment.includes('..') &&
    !segment.includes('--') &&
    !/^[-.]|[-.]$/.test(segment)
  );
}

/** `org/name` → its parts; undefined when the string is not a well-formed hub id. */
export function parseHubId(spec: string): HubId | undefined {
  const parts = spec.split('/');
  if (parts.length !== 2) return undefined;
  const [org, name] = parts as [string, string];
  if (!validSegment(org) || !validSegment(name)) return undefined;
  return { org, name, id: `${org}/${name}` };
}

/**
 * A branch, tag or commit. Slashes are allowed (`refs/pr/1`) because they become nested cache folders;
 * anything that could climb out of the cache (`..`, absolute, empty segments) is refused.
 */
export function parseRevision(revision: string): string | undefined {
  if (revision.length === 0 || revision.length > 255) return undefined;
  const segments = revision.split('/');
  const ok = segments.every((s) => /^[A-Za-z0-9_.+-]+$/.test(s) && s !== '.' && s !== '..');
  return ok ? revision : undefined;
}

/** `<cacheDir>/<org>/<name>/<revision>`: plain names, no `models--org--name`, which transformers.js rejects. */
export function modelCacheDir(cacheDir: string, hub: HubId, revision: string): string {
  return join(cacheDir, hub.org, hub.name, ...revision.split('/'));
}

/** Written last, inside the staging folder, so its presence means every listed file was verified. */
export const MARKER_FILE = '.chatpulse-model.json';

export interface Marker {
  readonly id: string;
  readonly revision: string;
  readonly endpoint: string;
  /** The commit the hub served (`X-Repo-Commit`), when it said. */
  readonly commit: string | null;
  readonly downloadedAt: string;
  readonly files: readonly { readonly path: string; readonly size: number; readonly sha256?: string; readonly oid?: string }[];
}

/**
 * True when `dir` holds a finished download. Sizes are re-checked (a stat each, no hashing) so a folder
 * damaged after the fact is downloaded again instead of failing later inside ONNX Runtime.
 */
export function isCompleteModelDir(dir: string): boolean {
  const markerPath = join(dir, MARKER_FILE);
  if (!existsSync(markerPath)) return false;
  // Read from disk, so checked rather than trusted to be a Marker.
  let marker: { files?: unknown };
  try {
    marker = JSON.parse(readFileSync(markerPath, 'utf8')) as { files?: unknown };
  } catch {
    return false;
  }
  const files = marker.files;
  if (!Array.isArray(files) || files.length === 0) return false;
  return files.every((file: unknown) => {
    if (typeof file !== 'object' || file === null) return false;
    const { path, size } = file as { path?: unknown; size?: unknown };
    if (typeof path !== 'string') return false;
    try {
      return statSync(join(dir, path)).size === size;
    } catch {
      return false;
    }
  });
}
