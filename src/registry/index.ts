// The model registry: turns a MODEL spec (local folder, bundled name or Hugging Face id) into a local
// model folder, downloading, verifying and caching hub models on first use.
export { resolveModel, defaultCacheDir, DEFAULT_HF_ENDPOINT, DEFAULT_STALL_MS, type ResolveOptions } from './resolve.js';
export { parseHubId, parseRevision, modelCacheDir, isCompleteModelDir, type HubId } from './spec.js';
export { downloadModel, type DownloadOptions } from './download.js';
export { listTree, selectModelFiles, resolveUrl, treeUrl, type HubFile, type TreeEntry } from './hub.js';
export { createProgress, type ProgressEvent, type ProgressSink } from './progress.js';
export { RegistryError, type RegistryErrorCode } from './errors.js';
