// Uploaded images: the FileStore port with its memory driver (store.ts), the folder (folder-store.ts) and
// GridFS (mongo-store.ts) drivers, the byte-level image check (images.ts) and the upload rules (service.ts).
export { checkImage, declaredType, EXTENSION, IMAGE_TYPES, sniffImage, type ImageType } from './images.js';
export { FILE_ID, MemoryFileStore, type FileMeta, type FileStore, type StoredFile } from './store.js';
export { FolderFileStore } from './folder-store.js';
export { GridFsFileStore } from './mongo-store.js';
export { FileService, fileUrl, type FileRef, type FileServiceOptions } from './service.js';
