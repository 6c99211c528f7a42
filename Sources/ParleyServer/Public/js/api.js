// Parley's REST API for the browser. The refresh token lives in an HttpOnly cookie that the server sets for
// /api/auth (sign-in and sign-up ask for it with `cookie: true`), where no script can read it; the access token
// lives in memory only. A reload restores the session by refreshing through that cookie. The access token is
// refreshed a minute before it expires (and once more on a 401), and every failure is an ApiError carrying the
// server's words.

// Whether this browser has signed in (not a secret: it only saves a refresh that would fail on a first visit).
const signedInKey = "parley.signedIn";
// Where a client that kept the whole session in localStorage, refresh token included, kept it.
const legacyKey = "parley.session";

export class ApiError extends Error {
  /** `field` names the request's field at fault, for an `invalid_field` error, or is null. */
  constructor(status, code, message, field = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** The field an error is about: the one it names, or for `invalid_field` the first word of its message ("username must…"). */
function faultyField(error) {
  if (typeof error?.field === "string") return error.field;
  if (error?.code !== "invalid_field" || typeof error.message !== "string") return null;
  return error.message.split(" ")[0] || null;
}

export class Api extends EventTarget {
  constructor(base = "") {
    super();
    this.base = base;
    this.session = null;
    this.refreshing = null;
    this.timer = null;
    this.forgetLegacySession();
  }

  /** Signs in again through the refresh cookie after a reload; resolves with false when there is no session. */
  async restore() {
    if (localStorage.getItem(signedInKey) === null) return false;
    try {
      await this.refresh();
      return true;
    } catch (error) {
      if (error.status === 401) return false;
      throw error;
    }
  }

  /** A refresh token left in localStorage (under `legacyKey`): removed, and its session ended. */
  forgetLegacySession() {
    const stored = localStorage.getItem(legacyKey);
    if (stored === null) return;
    localStorage.removeItem(legacyKey);
    let refreshToken;
    try {
      refreshToken = JSON.parse(stored)?.refreshToken;
    } catch {
      return;
    }
    if (typeof refreshToken === "string") this.call("POST", "/api/auth/logout", { refreshToken }, false).catch(() => {});
  }

  get user() {
    return this.session?.user ?? null;
  }

  get token() {
    return this.session?.accessToken ?? null;
  }

  async register(username, password, name) {
    return this.signIn(await this.call("POST", "/api/auth/register", { username, password, name, cookie: true }, false));
  }

  async login(username, password) {
    return this.signIn(await this.call("POST", "/api/auth/login", { username, password, cookie: true }, false));
  }

  async logout() {
    try {
      // The server ends the session of the cookie and clears it.
      if (this.session) await this.call("POST", "/api/auth/logout", {}, false);
    } finally {
      this.forget();
    }
  }

  /** Sets the signed-in user's picture from an image's bytes (a Blob); answers the user, with its new `avatar`. */
  async setAvatar(image) {
    return this.updateUser(await this.request("PUT", "/api/me/avatar", image));
  }

  /** Removes the signed-in user's picture; answers the user, without `avatar`. */
  async removeAvatar() {
    return this.updateUser(await this.request("DELETE", "/api/me/avatar"));
  }

  /** The signed-in user as the server now answers them, kept in the session. */
  updateUser(user) {
    if (this.session) this.session = { ...this.session, user };
    return user;
  }

  /**
   * Rotates the refresh cookie for a new access token; concurrent callers share one rotation. Tabs share the cookie,
   * so their rotations take turns (Web Locks): each then presents the cookie the one before it set, where two at once
   * would present the same one and the server, taking that for a stolen token's reuse, would end the session.
   */
  refresh() {
    const rotate = () => this.call("POST", "/api/auth/refresh", {}, false);
    this.refreshing ??= (navigator.locks ? navigator.locks.request("parley.refresh", rotate) : rotate())
      .then((session) => this.signIn(session))
      .catch((error) => {
        if (error.status === 401) this.forget();
        throw error;
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /**
   * A request on behalf of the signed-in user; a 401 refreshes the token and tries once more. The body is sent as
   * JSON, or as its own bytes when it is a Blob (a File).
   */
  async request(method, path, body) {
    try {
      return await this.call(method, path, body, true);
    } catch (error) {
      if (error.status !== 401 || !this.session) throw error;
      await this.refresh();
      return this.call(method, path, body, true);
    }
  }

  signIn(session) {
    session.expiresAt = Date.now() + session.expiresIn * 1000;
    this.session = session;
    localStorage.setItem(signedInKey, "1");
    this.scheduleRefresh();
    this.dispatchEvent(new CustomEvent("session", { detail: session }));
    return session;
  }

  forget() {
    const wasSignedIn = this.session !== null;
    this.session = null;
    clearTimeout(this.timer);
    localStorage.removeItem(signedInKey);
    if (wasSignedIn) this.dispatchEvent(new Event("signedout"));
  }

  scheduleRefresh() {
    clearTimeout(this.timer);
    if (!this.session) return;
    const delay = Math.max(1000, this.session.expiresAt - Date.now() - 60_000);
    this.timer = setTimeout(() => this.refresh().catch(() => {}), delay);
  }

  async call(method, path, body, authenticated) {
    const headers = { Accept: "application/json" };
    const bytes = body instanceof Blob;
    if (body !== undefined) headers["Content-Type"] = bytes ? body.type || "application/octet-stream" : "application/json";
    if (authenticated && this.token) headers.Authorization = `Bearer ${this.token}`;
    let response;
    try {
      response = await fetch(this.base + path, { method, headers, body: body === undefined || bytes ? body : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "network", "Parley cannot be reached. Check your connection and try again.");
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let answer = null;
    try {
      answer = text ? JSON.parse(text) : null;
    } catch (error) {
      // A proxy's error page, when no node could answer: its status says what there is to say.
      if (response.ok) throw error;
    }
    if (!response.ok) {
      const error = answer?.error;
      throw new ApiError(response.status, error?.code ?? "internal", error?.message ?? `The server answered ${response.status}.`, faultyField(error));
    }
    return answer;
  }
}

/** A random UUID (v4), also where crypto.randomUUID is missing. */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
