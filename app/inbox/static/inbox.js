// The agent inbox: queue and "Mine" lists, one open conversation, its actions, and the live
// event stream that keeps them current. Rendering lives in view.js, HTTP in api.js.

import { agentApi, connectEvents, LOGIN_URL } from "./api.js";
import {
  el, messageItem, noteItem, renderAgents, renderList, stateLabel, tickWaits,
} from "./view.js";

const TYPING_EVERY_MS = 3000;
const $ = (id) => document.getElementById(id);
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";
const me = { id: meta("sb-agent-id"), name: meta("sb-agent-name"), role: meta("sb-agent-role") };
const state = {
  sid: null, detail: null, queue: [], mine: [], agents: [],
  seen: new Set(), seenNotes: new Set(), unread: new Set(), lastTyping: 0, listsTimer: null, live: "connecting",
};

// ---- status line and announcements (never fail silently) ----

function showStatus(text, kind = "info") {
  const status = $("status");
  status.dataset.kind = kind;
  status.replaceChildren(el("span", { text }));
}

function showError(err, context) {
  if (err.status === 401) {
    showStatus("Your login has expired. ", "error");
    $("status").append(el("a", { text: "Log in again", attrs: { href: LOGIN_URL } }));
    return;
  }
  const code = err.code ? ` (${err.code})` : "";
  showStatus(`${context}: ${err.message || err}${code}`, "error");
}

function announce(text) {
  const announcer = $("announcer");
  announcer.textContent = "";
  requestAnimationFrame(() => { announcer.textContent = text; });
}

// ---- the two lists ----

function renderLists() {
  const common = { unread: state.unread, selected: state.sid };
  renderList($("queue"), state.queue, { ...common, hook: "sb-queue-item", empty: "No one is waiting." });
  renderList($("mine"), state.mine, { ...common, hook: "sb-mine-item", empty: "You hold no conversations." });
  $("queue-count").textContent = `(${state.queue.length})`;
  $("mine-count").textContent = `(${state.mine.length})`;
}

async function loadLists() {
  try {
    const [waiting, mine] = await Promise.all([
      agentApi.queue("waiting"), agentApi.queue("with_agent", true),
    ]);
    state.queue = waiting.sessions || [];
    state.mine = mine.sessions || [];
    renderLists();
  } catch (err) {
    showError(err, "Could not load the queue");
  }
}

/** Coalesce bursts of queue events into one refresh. */
function scheduleLists() {
  clearTimeout(state.listsTimer);
  state.listsTimer = setTimeout(loadLists, 150);
}

async function loadAgents() {
  try {
    state.agents = (await agentApi.agents()).agents || [];
    renderAgents($("transfer-agent"), state.agents, me.id);
  } catch (err) {
    showError(err, "Could not load the list of agents");
  }
}

// ---- the open conversation ----

const handoff = () => state.detail?.handoff || {};
const heldByMe = () => handoff().state === "with_agent" && handoff().assigned_agent?.user_id === me.id;
const mayManage = () => handoff().state === "with_agent" && (heldByMe() || me.role === "admin");

function renderFacts() {
  const h = handoff();
  $("handoff-state").textContent = stateLabel(h.state);
  $("handoff-reason").textContent = h.reason || "—";
  const agent = h.assigned_agent;
  $("handoff-agent").textContent = agent ? (agent.user_id === me.id ? "you" : agent.name) : "nobody yet";
  $("summary").textContent = h.summary || "(no summary)";
  $("session-channel").textContent = state.detail?.channel || "—";
  // An offline request's address (decrypted for staff only): how the customer gets an answer.
  $("contact-email").textContent = state.detail?.contact_email || "—";
}

function renderActions() {
  const held = heldByMe();
  $("claim").disabled = handoff().state !== "waiting";
  $("reply-input").disabled = !held;
  $("reply-send").disabled = !held;
  $("reply-input").placeholder = held ? "" : "Claim the conversation to reply.";
  for (const id of ["transfer-agent", "transfer", "release-resolved", "release-bot"]) {
    $(id).disabled = !mayManage();
  }
}

function appendMessage(message) {
  if (message.message_id) {
    if (state.seen.has(message.message_id)) return false;
    state.seen.add(message.message_id);
  }
  const transcript = $("transcript");
  transcript.append(messageItem(message));
  transcript.lastElementChild.scrollIntoView({ block: "nearest" });
  return true;
}

function renderConversation() {
  const detail = state.detail;
  $("conversation").hidden = false;
  $("nothing-open").hidden = true;
  $("conversation-id").textContent = detail.session_id;
  renderFacts();
  state.seen = new Set();
  $("transcript").replaceChildren();
  for (const message of detail.messages || []) appendMessage(message);
  state.seenNotes = new Set((detail.notes || []).map((note) => note.note_id));
  $("notes").replaceChildren(...(detail.notes || []).map(noteItem));
  renderActions();
}

async function openSession(sid, { focus = false } = {}) {
  state.sid = sid;
  state.unread.delete(sid);
  renderLists();
  try {
    const detail = await agentApi.session(sid);
    if (state.sid !== sid) return; // another conversation was opened meanwhile
    state.detail = detail;
    renderConversation();
    loadAgents(); // who is online changes; the transfer choices should be fresh
    if (focus) $("conversation-heading").focus();
  } catch (err) {
    if (state.sid === sid) showError(err, "Could not open the conversation");
  }
}

function applyHandoff(sid, next) {
  if (!next || state.sid !== sid || !state.detail) return;
  state.detail.handoff = next;
  renderFacts();
  renderActions();
}

// ---- actions ----

async function act(context, work) {
  const sid = state.sid;
  if (!sid) return;
  try {
    await work(sid);
  } catch (err) {
    if (err.code === "SESSION_ALREADY_CLAIMED") {
      showStatus("Another agent took this conversation.", "error");
      openSession(sid);
    } else {
      showError(err, context);
    }
  } finally {
    scheduleLists();
  }
}

const claim = () => act("Could not claim the conversation", async (sid) => {
  applyHandoff(sid, (await agentApi.claim(sid)).handoff);
  showStatus("You hold this conversation now.");
  $("reply-input").focus();
});

function sendReply(event) {
  event.preventDefault();
  const text = $("reply-input").value.trim();
  if (!text) return;
  $("reply-send").disabled = true;
  act("Could not send the reply", async (sid) => {
    const data = await agentApi.reply(sid, text);
    $("reply-input").value = "";
    state.lastTyping = 0;
    const message = data.message || data;
    if (state.sid === sid) appendMessage({ role: "agent", agent_name: me.name, content: text, ...message });
    showStatus("Reply sent.");
  }).finally(renderActions);
}

function sendNote(event) {
  event.preventDefault();
  const text = $("note-input").value.trim();
  if (!text) return;
  act("Could not add the note", async (sid) => {
    const data = await agentApi.note(sid, text);
    $("note-input").value = "";
    onNoteEvent({ session_id: sid, author_name: me.name, content: text, ...(data.note || data) });
    showStatus("Internal note added.");
  });
}

function transfer(event) {
  event.preventDefault();
  const agentId = $("transfer-agent").value;
  if (!agentId) {
    showStatus("Choose an agent to transfer to.", "error");
    return;
  }
  const name = $("transfer-agent").selectedOptions[0]?.textContent || agentId;
  act("Could not transfer the conversation", async (sid) => {
    applyHandoff(sid, (await agentApi.transfer(sid, agentId)).handoff);
    showStatus(`Transferred to ${name}.`);
  });
}

const release = (outcome) => act("Could not release the conversation", async (sid) => {
  applyHandoff(sid, (await agentApi.release(sid, outcome)).handoff);
  showStatus(outcome === "resolved" ? "Conversation resolved." : "Conversation handed back to the bot.");
});

function typing() {
  const now = Date.now();
  if (!heldByMe() || !$("reply-input").value.trim() || now - state.lastTyping < TYPING_EVERY_MS) return;
  state.lastTyping = now;
  const sid = state.sid;
  agentApi.typing(sid).catch((err) => showError(err, "Could not send the typing signal"));
}

// ---- live events ----

function onQueueEvent(data) {
  const waiting = data.handoff?.state === "waiting";
  if (waiting && !state.queue.some((item) => item.session_id === data.session_id)) {
    announce("A customer is waiting for a person.");
  }
  applyHandoff(data.session_id, data.handoff);
  scheduleLists();
}

function onMessageEvent(data) {
  if (data.session_id === state.sid && state.detail) {
    if (appendMessage(data) && data.role === "user") announce(`Customer: ${data.content}`);
    return;
  }
  state.unread.add(data.session_id);
  for (const item of [...state.queue, ...state.mine]) {
    if (item.session_id === data.session_id) item.last_messages = [...(item.last_messages || []), data];
  }
  renderLists();
  if (data.role === "user") announce("New customer message in another conversation.");
}

function onNoteEvent(note) {
  if (note.session_id !== state.sid || !state.detail) return;
  if (note.note_id && state.seenNotes.has(note.note_id)) return;
  if (note.note_id) state.seenNotes.add(note.note_id);
  $("notes").append(noteItem(note));
}

function onLiveState(next, detail) {
  const live = $("live");
  if (next === "bad-event") {
    showStatus(`Could not read a live "${detail}" event.`, "error");
    return;
  }
  const labels = { open: "on", reconnecting: "reconnecting…", closed: "off" };
  live.dataset.state = next;
  live.textContent = `Live updates: ${labels[next]}`;
  if (next === "open") {
    // The stream starts "from now": what happened between the page's first load and this
    // open is in neither, so load again, on the first open as on every reconnect.
    if (state.live !== "connecting") showStatus("Live updates are back.");
    loadLists();
    if (state.sid) openSession(state.sid);
  } else if (next === "reconnecting") {
    showStatus("Lost the live connection; reconnecting…", "error");
  } else if (next === "closed") {
    showStatus("Live updates stopped; reload the page.", "error");
  }
  state.live = next;
}

// ---- wiring ----

function start() {
  $("who").textContent = `Signed in as ${me.name} (${me.role})`;
  for (const id of ["queue", "mine"]) {
    $(id).addEventListener("click", (event) => {
      const item = event.target.closest("[data-session-id]");
      if (item) openSession(item.dataset.sessionId, { focus: true });
    });
  }
  $("conversation-heading").tabIndex = -1;
  $("claim").addEventListener("click", claim);
  $("reply-form").addEventListener("submit", sendReply);
  $("note-form").addEventListener("submit", sendNote);
  $("transfer-form").addEventListener("submit", transfer);
  $("release-resolved").addEventListener("click", () => release("resolved"));
  $("release-bot").addEventListener("click", () => release("back_to_bot"));
  $("reply-input").addEventListener("input", typing);
  for (const id of ["reply-input", "note-input"]) {
    $(id).addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) event.target.form.requestSubmit();
    });
  }
  setInterval(() => tickWaits(document, performance.now()), 1000);
  loadLists();
  loadAgents();
  connectEvents({ queue: onQueueEvent, message: onMessageEvent, note: onNoteEvent }, onLiveState);
}

start();
