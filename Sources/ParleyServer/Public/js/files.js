// Files in rooms, for the browser. A file is announced to its room (POST /api/rooms/:room/files), which answers where
// its bytes go: the upload goes there with XMLHttpRequest, whose upload events tell its progress (fetch has none),
// and without the access token, which that signed URL does not need. A member fetches a file's bytes through
// GET /api/files/:id with the token; its redirect to a short-lived link is followed, and an image is shown from a
// blob: URL of the bytes.

import { ApiError } from "./api.js";

/** The types shown in the page; the server holds their bytes to their magic numbers. */
const images = {
  "image/png": [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  "image/jpeg": [[0xff, 0xd8, 0xff]],
  "image/gif": [
    [0x47, 0x49, 0x46, 0x38, 0x37, 0x61],
    [0x47, 0x49, 0x46, 0x38, 0x39, 0x61],
  ],
  // RIFF, four bytes of size, WEBP.
  "image/webp": [[0x52, 0x49, 0x46, 0x46, null, null, null, null, 0x57, 0x45, 0x42, 0x50]],
};

export const isImage = (contentType) => Object.hasOwn(images, contentType);

/** A byte count for people: 512 B, 3.4 KB, 25.0 MB. */
export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * The type a file is sent as: what the browser says, except an image type its first bytes deny (the server would
 * refuse it), which goes as plain bytes.
 */
export async function contentTypeOf(file) {
  const type = file.type || "application/octet-stream";
  if (!isImage(type)) return type;
  return matchesMagic(await headOf(file), type) ? type : "application/octet-stream";
}

/** The image type a file's first bytes say it is, whatever its name or declared type, or null. */
export async function imageTypeOf(file) {
  const head = await headOf(file);
  return Object.keys(images).find((type) => matchesMagic(head, type)) ?? null;
}

const headOf = async (file) => new Uint8Array(await file.slice(0, 12).arrayBuffer());

const matchesMagic = (head, type) => images[type].some((magic) => head.length >= magic.length && magic.every((byte, i) => byte === null || head[i] === byte));

// How many images' bytes stay in memory as blob: URLs, so that redrawing a room does not fetch them again.
const keptImages = 100;

export class Files {
  constructor(api) {
    this.api = api;
    this.imageURLs = new Map();
  }

  /** Announces a file to a room: {file: {id, name, size, contentType}, upload: {url, method, headers, expiresAt}}. */
  async announce(room, file) {
    const contentType = await contentTypeOf(file);
    return this.api.request("POST", `/api/rooms/${room}/files`, { name: file.name || "file", size: file.size, contentType });
  }

  /** Sends a file's bytes where `announce` said; `progress(fraction)` follows them. */
  upload(target, file, progress) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open(target.method, new URL(target.url, location.href));
      for (const [name, value] of Object.entries(target.headers ?? {})) request.setRequestHeader(name, value);
      request.upload.addEventListener("progress", (event) => event.lengthComputable && progress(event.loaded / event.total));
      request.addEventListener("load", () => {
        if (request.status >= 200 && request.status < 300) return resolve();
        let answer = null;
        try {
          answer = JSON.parse(request.responseText);
        } catch {
          // A bucket answers in XML: its status says enough.
        }
        reject(new ApiError(request.status, answer?.error?.code ?? "internal", answer?.error?.message ?? `The upload was refused (${request.status}).`));
      });
      const cutOff = () => reject(new ApiError(0, "network", "The upload was cut off. Check your connection and try again."));
      request.addEventListener("error", cutOff);
      request.addEventListener("abort", cutOff);
      request.send(file);
    });
  }

  /** GET /api/files/:id with the access token (renewed once on a 401), its redirect followed: the bytes' response. */
  async fetch(id, init = {}) {
    const get = () => fetch(`/api/files/${id}`, { ...init, headers: { Authorization: `Bearer ${this.api.token}` } });
    let response = await get();
    if (response.status === 401) {
      await this.api.refresh();
      response = await get();
    }
    if (!response.ok) {
      const answer = await response.json().catch(() => null);
      throw new ApiError(response.status, answer?.error?.code ?? "internal", answer?.error?.message ?? "The file could not be fetched.");
    }
    return response;
  }

  /** A blob: URL of an image's bytes; the same one while it is kept. */
  imageURL(id) {
    let url = this.imageURLs.get(id);
    if (url) {
      // The most recently used go last, and the oldest are let go first.
      this.imageURLs.delete(id);
    } else {
      url = this.fetch(id)
        .then((response) => response.blob())
        .then((blob) => URL.createObjectURL(blob));
      url.catch(() => this.imageURLs.get(id) === url && this.imageURLs.delete(id));
    }
    this.imageURLs.set(id, url);
    for (const [oldest, kept] of this.imageURLs) {
      if (this.imageURLs.size <= keptImages) break;
      this.imageURLs.delete(oldest);
      kept.then((blobURL) => URL.revokeObjectURL(blobURL)).catch(() => {});
    }
    return url;
  }

  /**
   * Saves a file the way the browser downloads: once the redirect is followed, the fetch stops and the browser is
   * sent to the short-lived link itself, so that the bytes stream to disk rather than into the page.
   */
  async save(ref) {
    const stop = new AbortController();
    const response = await this.fetch(ref.id, { signal: stop.signal });
    stop.abort();
    const link = document.createElement("a");
    link.href = response.url;
    link.download = ref.name;
    link.rel = "noopener";
    document.body.append(link);
    link.click();
    link.remove();
  }
}
