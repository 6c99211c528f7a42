// Parley's REST API for the browser: the session lives in localStorage, the access token is refreshed a minute
// before it expires (and once more on a 401), and every failure is an ApiError carrying the server's words.

const storageKey = "parley.session";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api extends EventTarget {
  constructor(base = "") {
    super();
    this.base = base;
    this.session = JSON.parse(localStorage.getItem(storageKey) || "null");
    this.refreshing = null;
    this.timer = null;
    this.scheduleRefresh();
  }

  get user() {
    return this.session?.user ?? null;
  }

  get token() {
    return this.session?.accessToken ?? null;
  }

  async register(username, password, name) {
    return this.signIn(await this.call("POST", "/api/auth/register", { username, password, name }, false));
  }

  async login(username, password) {
    return this.signIn(await this.call("POST", "/api/auth/login", { username, password }, false));
  }

  async logout() {
    try {
      if (this.session) await this.call("POST", "/api/auth/logout", { refreshToken: this.session.refreshToken }, false);
    } finally {
      this.forget();
    }
  }

  /** Rotates the refresh token for a new access token; concurrent callers share one rotation. */
  refresh() {
    if (!this.session) return Promise.reject(new ApiError(401, "unauthorized", "You are signed out."));
    this.refreshing ??= this.call("POST", "/api/auth/refresh", { refreshToken: this.session.refreshToken }, false)
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

  /** A request on behalf of the signed-in user; a 401 refreshes the token and tries once more. */
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
    localStorage.setItem(storageKey, JSON.stringify(session));
    this.scheduleRefresh();
    this.dispatchEvent(new CustomEvent("session", { detail: session }));
    return session;
  }

  forget() {
    const wasSignedIn = this.session !== null;
    this.session = null;
    clearTimeout(this.timer);
    localStorage.removeItem(storageKey);
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
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (authenticated && this.token) headers.Authorization = `Bearer ${this.token}`;
    let response;
    try {
      response = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "network", "Parley cannot be reached. Check your connection and try again.");
    }
    if (response.status === 204) return null;
    const text = await response.text();
    const answer = text ? JSON.parse(text) : null;
    if (!response.ok) {
      throw new ApiError(response.status, answer?.error?.code ?? "internal", answer?.error?.message ?? `The server answered ${response.status}.`);
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
