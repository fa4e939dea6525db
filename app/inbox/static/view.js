// DOM building for the inbox. Every piece of customer, bot or agent text goes in through
// textContent (never innerHTML): a customer may type HTML, and it must stay text.

const ROLE_LABELS = { user: "Customer", assistant: "Bot", agent: "Agent" };
const ROLE_HOOKS = { user: "sb-message-user", assistant: "sb-message-bot", agent: "sb-message-agent" };
const STATE_LABELS = {
  bot: "with the bot",
  waiting: "waiting for a person",
  with_agent: "with an agent",
  resolved: "resolved",
};

/** An element with optional class and text (text always via textContent). */
export function el(tag, { cls, text, attrs } = {}) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

export function formatWait(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

export function formatTime(iso) {
  const date = iso ? new Date(iso) : null;
  return date && !Number.isNaN(date.getTime()) ? date.toLocaleTimeString() : "";
}

export const stateLabel = (state) => STATE_LABELS[state] || String(state || "unknown");

/** Update every live wait timer from the monotonic start it was rendered with. */
export function tickWaits(root, now) {
  for (const node of root.querySelectorAll(".wait[data-since]")) {
    node.textContent = `waiting ${formatWait((now - Number(node.dataset.since)) / 1000)}`;
  }
}

function queueEntry(item, { hook, unread, selected, now }) {
  const handoff = item.handoff || {};
  const li = el("li", { cls: "item", attrs: { "data-testid": hook, "data-session-id": item.session_id } });
  if (item.session_id === selected) li.classList.add("selected");
  const button = el("button", { cls: "open", attrs: { type: "button" } });
  if (item.session_id === selected) button.setAttribute("aria-current", "true");
  const top = el("span", { cls: "row" });
  if (hook === "sb-queue-item") {
    const since = now - (item.wait_seconds || 0) * 1000;
    const wait = el("span", { cls: "wait", attrs: { "data-since": String(since) } });
    wait.textContent = `waiting ${formatWait(item.wait_seconds || 0)}`;
    top.append(wait);
  }
  top.append(el("span", { cls: "reason", text: handoff.reason || "no reason given" }));
  if (handoff.offline) top.append(el("span", { cls: "badge offline", text: "offline request" }));
  if (handoff.email_collected) top.append(el("span", { cls: "badge", text: "email left" }));
  if (unread.has(item.session_id)) {
    top.append(el("span", { cls: "badge new", text: "new message", attrs: { "data-testid": "sb-new-message" } }));
  }
  button.append(top, el("span", { cls: "summary-line", text: handoff.summary || "(no summary)" }));
  const last = (item.last_messages || []).at(-1);
  if (last) {
    const who = last.agent_name || ROLE_LABELS[last.role] || last.role;
    button.append(el("span", { cls: "preview", text: `${who}: ${last.content}` }));
  }
  li.append(button);
  return li;
}

/** Fill a queue list ("sb-queue-item") or the "Mine" list ("sb-mine-item"). */
export function renderList(list, items, { hook, unread, selected, empty }) {
  const now = performance.now();
  list.replaceChildren(...items.map((item) => queueEntry(item, { hook, unread, selected, now })));
  if (!items.length) list.append(el("li", { cls: "empty", text: empty }));
}

function confidenceText(score) {
  const n = Number(score);
  if (!Number.isFinite(n)) return null;
  return n <= 1 ? `${Math.round(n * 100)}%` : String(n);
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function sourcesList(sources) {
  const list = el("ul", { cls: "sources", attrs: { "data-testid": "sb-sources" } });
  for (const source of sources) {
    const li = el("li");
    const href = source.url ? safeUrl(source.url) : null;
    const title = href
      ? el("a", { text: source.title || href, attrs: { href, target: "_blank", rel: "noopener noreferrer" } })
      : el("strong", { text: source.title || "untitled source" });
    li.append(title);
    if (source.snippet) li.append(el("span", { cls: "snippet", text: ` — ${source.snippet}` }));
    list.append(li);
  }
  return list;
}

/** One transcript entry: who, when, text; for a bot answer its confidence and sources. */
export function messageItem(message) {
  const role = message.role;
  const li = el("li", { cls: `message ${role}`, attrs: { "data-testid": ROLE_HOOKS[role] || "sb-message" } });
  if (message.message_id) li.dataset.messageId = message.message_id;
  const who = role === "agent" && message.agent_name ? `Agent ${message.agent_name}` : ROLE_LABELS[role] || role;
  const head = el("p", { cls: "meta" });
  head.append(el("span", { cls: "who", text: who }), el("time", { text: formatTime(message.timestamp) }));
  li.append(head, el("p", { cls: "text", text: message.content ?? "" }));
  if (role === "assistant") {
    const confidence = confidenceText(message.confidence_score);
    if (confidence) li.append(el("p", { cls: "confidence", text: `confidence ${confidence}`, attrs: { "data-testid": "sb-confidence" } }));
    if (message.sources && message.sources.length) li.append(sourcesList(message.sources));
  }
  return li;
}

export function noteItem(note) {
  const li = el("li", { cls: "note", attrs: { "data-testid": "sb-note" } });
  const head = el("p", { cls: "meta" });
  head.append(
    el("span", { cls: "who", text: `${note.author_name || "agent"} (internal)` }),
    el("time", { text: formatTime(note.timestamp) }),
  );
  li.append(head, el("p", { cls: "text", text: note.content ?? "" }));
  return li;
}

/** The transfer choices: every other agent, offline ones marked. */
export function renderAgents(select, agents, meId) {
  const chosen = select.value;
  const others = agents.filter((agent) => agent.user_id !== meId);
  const options = others.map((agent) => {
    const label = `${agent.name || agent.user_id}${agent.online ? "" : " (offline)"}`;
    return el("option", { text: label, attrs: { value: agent.user_id } });
  });
  if (!options.length) options.push(el("option", { text: "no other agents", attrs: { value: "" } }));
  select.replaceChildren(...options);
  if (others.some((agent) => agent.user_id === chosen)) select.value = chosen;
}
