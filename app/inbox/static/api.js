// The agent API over the login cookie: one fetch wrapper that turns every failure into an
// ApiError carrying the envelope's code, so the page can always say what went wrong.

export const LOGIN_URL = "/login?next=/agent/";
const BASE = "/api/v1/agent";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(path, { method = "GET", body } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "NETWORK_ERROR", "The server could not be reached.");
  }
  const envelope = await response.json().catch(() => null);
  if (response.ok && envelope && envelope.success !== false) return envelope.data ?? {};
  const error = (envelope && envelope.error) || {};
  throw new ApiError(
    response.status,
    error.code || `HTTP_${response.status}`,
    error.message || `The server answered ${response.status}.`,
  );
}

const session = (sid) => `${BASE}/sessions/${encodeURIComponent(sid)}`;

export const agentApi = {
  queue: (state, mine = false) =>
    call(`${BASE}/queue?state=${encodeURIComponent(state)}&mine=${mine}`),
  session: (sid) => call(session(sid)),
  claim: (sid) => call(`${session(sid)}/claim`, { method: "POST" }),
  reply: (sid, message) => call(`${session(sid)}/messages`, { method: "POST", body: { message } }),
  note: (sid, note) => call(`${session(sid)}/notes`, { method: "POST", body: { note } }),
  typing: (sid) => call(`${session(sid)}/typing`, { method: "POST" }),
  transfer: (sid, agentId) =>
    call(`${session(sid)}/transfer`, { method: "POST", body: { agent_id: agentId } }),
  release: (sid, outcome) => call(`${session(sid)}/release`, { method: "POST", body: { outcome } }),
  agents: () => call(`${BASE}/agents`),
};

/**
 * Open the agent event stream. Reconnecting is EventSource's own job (it resends
 * Last-Event-ID); ``onState`` hears "open" / "reconnecting" / "closed" to show it.
 */
export function connectEvents(handlers, onState) {
  const source = new EventSource(`${BASE}/events`, { withCredentials: true });
  for (const [type, handle] of Object.entries(handlers)) {
    source.addEventListener(type, (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        onState("bad-event", type);
        return;
      }
      handle(data);
    });
  }
  source.onopen = () => onState("open");
  source.onerror = () => onState(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
  return source;
}
