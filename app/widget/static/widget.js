// supportbot customer widget: a plain ES module, no framework, no build step.
//
//   <script type="module" src="https://support.example.com/widget.js"
//     data-site-key="sbw_..." data-position="right" data-color="#3b5bdb"
//     data-title="Support" data-greeting="Hi! How can we help?"></script>
//
// The API is the script's own origin. Everything renders in a Shadow DOM, so the host page's
// CSS cannot reach in; every piece of user, bot or agent text goes in with textContent.
// Opening the widget is one request (POST /api/v1/widget/session); a person's replies arrive
// on GET .../events, read with fetch (EventSource cannot send the Authorization header).

const API = new URL(import.meta.url).origin;
const LIVE_STATES = new Set(["waiting", "with_agent"]);
const REFRESH_EARLY_MS = 60_000;

function findScript() {
  const all = [...document.querySelectorAll("script[data-site-key]")];
  return all.find((s) => s.src && new URL(s.src, location.href).href === import.meta.url) || all[0];
}

const script = findScript();
const data = script ? script.dataset : {};
const cfg = {
  siteKey: data.siteKey || "",
  position: data.position === "left" ? "left" : "right",
  color: /^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(data.color || "") ? data.color : "#3b5bdb",
  title: data.title || "Support",
  greeting: data.greeting || "",
};

// ---- storage: the refresh token and session id, per site key (conversation survives reloads)

const STORE_KEY = `supportbot:${cfg.siteKey}`;
let memory = {};
const store = {
  get() {
    try {
      return JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
    } catch {
      return memory;
    }
  },
  set(values) {
    memory = { ...this.get(), ...values };
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(memory));
    } catch {
      /* storage blocked: keep it in memory for this page */
    }
  },
  clear() {
    memory = {};
    try {
      localStorage.removeItem(STORE_KEY);
    } catch {
      /* nothing stored */
    }
  },
};

// ---- DOM helpers (never innerHTML with text that came from a person or the bot)

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

function readableOn(hex) {
  let v = hex.slice(1);
  if (v.length === 3) v = [...v].map((c) => c + c).join("");
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(v.slice(i, i + 2), 16) / 255);
  const lin = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return lum > 0.45 ? "#111827" : "#ffffff";
}

function safeUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

const SVG = "http://www.w3.org/2000/svg";
const THUMB_UP =
  "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 " +
  "7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23" +
  ".14-.47.14-.73v-2z";
const THUMB_DOWN =
  "M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2h6.31l-.95 " +
  "4.57-.03.32c0 .41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41V5c0-1.1-.9-2-2-2zm4 " +
  "0v12h4V3h-4z";
const SEND = "M2 21l21-9L2 3v7l15 2-15 2z";

function icon(d) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- Server-sent events over fetch

function parseBlock(block) {
  let event = "message";
  let id = null;
  const lines = [];
  for (const line of block.split("\n")) {
    if (!line || line[0] === ":") continue; // ": ping" heartbeats
    const at = line.indexOf(":");
    const field = at < 0 ? line : line.slice(0, at);
    let value = at < 0 ? "" : line.slice(at + 1);
    if (value[0] === " ") value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") lines.push(value);
    else if (field === "id") id = value;
  }
  if (!lines.length) return null;
  let parsed = lines.join("\n");
  try {
    parsed = JSON.parse(parsed);
  } catch {
    /* plain text data */
  }
  return { event, id, data: parsed };
}

async function* sse(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      const blocks = buffer.split("\n\n");
      buffer = blocks.pop();
      for (const block of blocks) {
        const ev = parseBlock(block);
        if (ev) yield ev;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

async function envelope(res) {
  try {
    return await res.json();
  } catch {
    return { success: false, error: { code: "BAD_RESPONSE", message: "Unexpected reply." } };
  }
}

function errorText(env, res) {
  if (res && res.status === 429) {
    const wait = res.headers.get("Retry-After");
    return `You're going a bit fast; please try again${wait ? ` in ${wait} s` : " shortly"}.`;
  }
  return (env && env.error && env.error.message) || "Something went wrong; please try again.";
}

// ---- Styles (inline in the shadow root: one file, nothing for the host page to override)

const CSS = `
:host{all:initial}
*{box-sizing:border-box;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
[hidden]{display:none!important}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
button{font:inherit;cursor:pointer}
:focus-visible{outline:3px solid #f59f00;outline-offset:2px}
.launcher{position:fixed;bottom:20px;SIDE:20px;width:58px;height:58px;border-radius:50%;border:0;
background:var(--c);color:var(--fg);box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000;
display:grid;place-items:center}
.launcher svg{width:28px;height:28px;fill:currentColor}
.badge{position:absolute;top:4px;right:4px;width:12px;height:12px;border-radius:50%;
background:#e03131;border:2px solid #fff}
.panel{position:fixed;bottom:90px;SIDE:20px;width:380px;max-width:calc(100vw - 40px);
height:600px;max-height:calc(100vh - 110px);background:#fff;color:#1f2933;border-radius:14px;
box-shadow:0 10px 40px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;
z-index:2147483001;font-size:15px;line-height:1.45}
header{background:var(--c);color:var(--fg);padding:12px 14px;display:flex;align-items:center;gap:10px}
header h2{margin:0;font-size:16px;font-weight:600;flex:1}
header .status{display:block;font-size:12px;font-weight:400;opacity:.9}
.close{background:transparent;border:0;color:inherit;font-size:24px;line-height:1;padding:2px 8px;
border-radius:6px}
.log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;
background:#f8f9fa}
.msg{max-width:85%;padding:9px 12px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}
.msg.user{align-self:flex-end;background:var(--c);color:var(--fg);border-bottom-right-radius:4px}
.msg.bot,.msg.agent{align-self:flex-start;background:#fff;border:1px solid #e9ecef;
border-bottom-left-radius:4px}
.msg.agent{border-color:#b2f2bb;background:#f4fdf5}
.msg.system{align-self:center;background:transparent;color:#495057;font-size:13px;
text-align:center;max-width:95%}
.who{display:block;font-size:12px;font-weight:600;color:#2b8a3e;margin-bottom:2px}
.sources{display:flex;flex-direction:column;gap:6px;margin-top:8px;white-space:normal}
.source{display:block;border:1px solid #dee2e6;border-radius:8px;padding:6px 8px;
background:#f8f9fa;color:inherit;text-decoration:none;font-size:13px}
a.source:hover{border-color:var(--c)}
.source strong{display:block;font-size:13px}
.source span{display:block;color:#495057}
.feedback{display:flex;gap:4px;margin-top:6px}
.feedback button{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:3px 7px;
color:#495057;display:grid;place-items:center}
.feedback svg{width:15px;height:15px;fill:currentColor}
.send svg{width:20px;height:20px;fill:currentColor}
.feedback button[aria-pressed="true"]{background:var(--c);color:var(--fg);border-color:var(--c)}
.feedback button:disabled{cursor:default}
.typing{padding:0 14px 6px;font-size:13px;color:#495057;background:#f8f9fa}
.dots span{display:inline-block;width:6px;height:6px;margin-right:3px;border-radius:50%;
background:#868e96;animation:b 1.2s infinite}
.dots span:nth-child(2){animation-delay:.2s}.dots span:nth-child(3){animation-delay:.4s}
@keyframes b{0%,80%,100%{opacity:.3}40%{opacity:1}}
@media (prefers-reduced-motion:reduce){.dots span{animation:none}}
.bar{display:flex;gap:8px;padding:6px 12px;border-top:1px solid #e9ecef;background:#fff}
.link{background:transparent;border:0;color:#364fc7;padding:4px 2px;font-size:13px;
text-decoration:underline}
.email{padding:8px 12px;border-top:1px solid #e9ecef;display:flex;flex-wrap:wrap;gap:6px}
.email label{width:100%;font-size:13px}
.email input{flex:1;min-width:0;padding:7px 9px;border:1px solid #ced4da;border-radius:8px;font:inherit}
.email .err{width:100%;margin:0;color:#c92a2a;font-size:13px}
.composer{display:flex;gap:8px;padding:10px 12px;border-top:1px solid #e9ecef}
.composer textarea{flex:1;resize:none;border:1px solid #ced4da;border-radius:10px;padding:8px 10px;
font:inherit;max-height:120px}
.send,.email button{background:var(--c);color:var(--fg);border:0;border-radius:10px;padding:0 14px}
.send:disabled{opacity:.5;cursor:default}
@media (max-width:480px){.panel{inset:0;width:100%;max-width:none;height:100%;max-height:none;
border-radius:0}.panel:not([hidden])~.launcher{display:none}}
`;

const ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 ' +
  '2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';

// ---- The widget

class Widget {
  constructor() {
    this.sid = null;
    this.access = null;
    this.expiresAt = 0;
    this.handoff = { state: "bot" };
    this.shown = new Set(); // message ids already on screen (history, turns and events meet)
    this.events = null; // AbortController of the live events stream
    this.lastEventId = null;
    this.busy = false;
    this.opened = null; // the promise of the first session call
    this.refreshing = null;
    this.refreshTimer = null;
    this.typingTimer = null;
    this.build();
  }

  // -- rendering

  build() {
    const host = document.createElement("supportbot-widget");
    const root = host.attachShadow({ mode: "open" });
    const side = cfg.position;
    const style = h("style", {}, CSS.replaceAll("SIDE", side));
    host.style.setProperty("--c", cfg.color);
    host.style.setProperty("--fg", readableOn(cfg.color));

    this.log = h("div", {
      class: "log",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Conversation",
      "data-testid": "sb-messages",
      tabindex: "0",
    });
    this.status = h("span", { class: "status", "data-testid": "sb-status" });
    this.typing = h(
      "div",
      { class: "typing", role: "status", "data-testid": "sb-typing", hidden: true },
      h("span", { class: "dots", "aria-hidden": "true" }, h("span"), h("span"), h("span")),
      h("span", { class: "typing-text" }),
    );
    this.handoffBtn = h(
      "button",
      { type: "button", class: "link", "data-testid": "sb-handoff", onclick: () => this.askPerson() },
      "Talk to a person",
    );
    this.cancelBtn = h(
      "button",
      {
        type: "button",
        class: "link",
        "data-testid": "sb-handoff-cancel",
        hidden: true,
        onclick: () => this.cancelPerson(),
      },
      "Cancel request",
    );
    this.emailInput = h("input", {
      id: "sb-email",
      type: "email",
      autocomplete: "email",
      required: true,
      "data-testid": "sb-email-input",
    });
    this.emailError = h("p", { class: "err", role: "alert" });
    this.emailForm = h(
      "form",
      { class: "email", hidden: true, "data-testid": "sb-email-form", onsubmit: (e) => this.sendEmail(e) },
      h("label", { for: "sb-email" }, "Leave your email and we'll get back to you:"),
      this.emailInput,
      h("button", { type: "submit", "data-testid": "sb-email-submit" }, "Send"),
      this.emailError,
    );
    this.input = h("textarea", {
      id: "sb-input",
      rows: "1",
      placeholder: "Type your message…",
      maxlength: "4000",
      "data-testid": "sb-input",
      onkeydown: (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
          e.preventDefault();
          this.submit();
        }
      },
    });
    this.sendBtn = h(
      "button",
      { type: "submit", class: "send", "aria-label": "Send message", "data-testid": "sb-send" },
      icon(SEND),
    );
    const composer = h(
      "form",
      {
        class: "composer",
        onsubmit: (e) => {
          e.preventDefault();
          this.submit();
        },
      },
      h("label", { class: "sr", for: "sb-input" }, "Type your message"),
      this.input,
      this.sendBtn,
    );
    const title = h("h2", { id: "sb-title" }, cfg.title, this.status);
    this.panel = h(
      "section",
      {
        id: "sb-panel",
        class: "panel",
        role: "dialog",
        "aria-labelledby": "sb-title",
        hidden: true,
        "data-testid": "sb-panel",
        onkeydown: (e) => {
          if (e.key === "Escape") this.close();
        },
      },
      h(
        "header",
        {},
        title,
        h(
          "button",
          { type: "button", class: "close", "aria-label": "Close chat", "data-testid": "sb-close", onclick: () => this.close() },
          "×",
        ),
      ),
      this.log,
      this.typing,
      h("div", { class: "bar" }, this.handoffBtn, this.cancelBtn),
      this.emailForm,
      composer,
    );
    this.badge = h("span", { class: "badge", hidden: true, "data-testid": "sb-unread" });
    this.launcher = h("button", {
      type: "button",
      class: "launcher",
      "aria-label": "Open chat",
      "aria-expanded": "false",
      "aria-controls": "sb-panel",
      "data-testid": "sb-launcher",
      onclick: () => (this.panel.hidden ? this.open() : this.close()),
    });
    this.launcher.innerHTML = ICON; // a constant: no outside text ever goes through innerHTML
    this.launcher.append(this.badge);
    root.append(style, this.panel, this.launcher);
    document.body.append(host);
  }

  scroll() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  add(el) {
    this.log.append(el);
    this.scroll();
    if (this.panel.hidden && !el.classList.contains("user")) this.badge.hidden = false;
    return el;
  }

  system(text) {
    return this.add(h("div", { class: "msg system", "data-testid": "sb-message-system" }, text));
  }

  addUser(text, id) {
    if (id) this.shown.add(id);
    return this.add(
      h("div", { class: "msg user", "data-testid": "sb-message-user", "data-message-id": id }, text),
    );
  }

  addAgent(text, name, id) {
    if (id) this.shown.add(id);
    return this.add(
      h(
        "div",
        { class: "msg agent", "data-testid": "sb-message-agent", "data-message-id": id },
        h("span", { class: "who" }, name || "Agent"),
        h("span", { class: "text" }, text),
      ),
    );
  }

  addBot(text = "", testid = "sb-message-bot") {
    const textEl = h("span", { class: "text" }, text);
    const el = this.add(h("div", { class: "msg bot", "data-testid": testid }, textEl));
    return { el, textEl };
  }

  fillBot(bubble, answer, sources) {
    bubble.textEl.textContent = answer.content || "";
    if (answer.message_id) {
      this.shown.add(answer.message_id);
      bubble.el.dataset.messageId = answer.message_id;
    }
    const cards = this.sourceCards(sources || []);
    if (cards) bubble.el.append(cards);
    if (answer.message_id) bubble.el.append(this.feedback(answer.message_id));
    this.scroll();
  }

  sourceCards(sources) {
    const seen = new Set();
    const list = h("div", { class: "sources", role: "list", "aria-label": "Sources" });
    for (const s of sources) {
      const title = (s && s.title) || "Source";
      const key = `${title}\n${s.snippet || ""}`;
      if (seen.has(key) || seen.size >= 5) continue;
      seen.add(key);
      const url = safeUrl(s.url) || safeUrl(s.source);
      const attrs = { class: "source", role: "listitem", "data-testid": "sb-source" };
      const card = url
        ? h("a", { ...attrs, href: url, target: "_blank", rel: "noopener noreferrer" })
        : h("div", attrs);
      card.append(h("strong", {}, title));
      if (s.snippet) card.append(h("span", {}, s.snippet));
      list.append(card);
    }
    return seen.size ? list : null;
  }

  feedback(messageId) {
    const up = h(
      "button",
      { type: "button", "aria-label": "This answer helped", "aria-pressed": "false", "data-testid": "sb-feedback-up" },
      icon(THUMB_UP),
    );
    const down = h(
      "button",
      { type: "button", "aria-label": "This answer did not help", "aria-pressed": "false", "data-testid": "sb-feedback-down" },
      icon(THUMB_DOWN),
    );
    const rate = async (button, score) => {
      up.disabled = down.disabled = true;
      button.setAttribute("aria-pressed", "true");
      const body = { session_id: this.sid, message_id: messageId, score, key: "user_score" };
      const res = await this.api("/chat/feedback", { method: "POST", body }).catch(() => null);
      if (!res || !res.ok) {
        up.disabled = down.disabled = false;
        button.setAttribute("aria-pressed", "false");
      }
    };
    up.addEventListener("click", () => rate(up, 5));
    down.addEventListener("click", () => rate(down, 1));
    return h("div", { class: "feedback", role: "group", "aria-label": "Rate this answer" }, up, down);
  }

  showTyping(text, ms = 0) {
    clearTimeout(this.typingTimer);
    this.typing.querySelector(".typing-text").textContent = text;
    this.typing.hidden = false;
    if (ms) this.typingTimer = setTimeout(() => this.hideTyping(), ms);
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    this.typing.hidden = true;
  }

  renderHistory(messages) {
    for (const m of messages || []) {
      if (this.shown.has(m.message_id)) continue;
      const meta = m.metadata || {};
      if (m.role === "user") this.addUser(m.content, m.message_id);
      else if (m.role === "agent") this.addAgent(m.content, meta.agent_name, m.message_id);
      else if (m.role === "assistant") {
        const sources = meta.sources || (meta.context_used || {}).retrieved_documents || [];
        this.fillBot(this.addBot(), m, sources);
      }
    }
    if (!this.log.children.length && cfg.greeting) this.addBot(cfg.greeting, "sb-greeting");
  }

  resetLog() {
    this.log.replaceChildren();
    this.shown.clear();
    this.lastEventId = null;
    this.stopEvents();
  }

  setHandoff(view) {
    this.handoff = view || { state: "bot" };
    const { state } = this.handoff;
    const agent = this.handoff.assigned_agent;
    this.handoffBtn.hidden = LIVE_STATES.has(state);
    this.cancelBtn.hidden = state !== "waiting";
    this.emailForm.hidden = !(state === "waiting" && this.handoff.offline && !this.handoff.email_collected);
    this.status.textContent =
      state === "waiting"
        ? "Waiting for a person…"
        : state === "with_agent"
          ? `Chatting with ${(agent && agent.name) || "a person"}`
          : "";
    if (LIVE_STATES.has(state)) this.followEvents();
    else this.stopEvents();
  }

  // -- opening and closing

  open() {
    this.panel.hidden = false;
    this.badge.hidden = true;
    this.launcher.setAttribute("aria-expanded", "true");
    this.launcher.setAttribute("aria-label", "Close chat");
    store.set({ open: true });
    this.input.focus();
    this.ready().catch(() => {});
  }

  close() {
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.setAttribute("aria-label", "Open chat");
    store.set({ open: false });
    this.launcher.focus();
  }

  ready() {
    if (!this.opened) {
      this.opened = this.session(true).catch((err) => {
        this.opened = null;
        this.system(err.message || "Chat is unavailable right now; please try again later.");
        throw err;
      });
    }
    return this.opened;
  }

  // -- tokens: POST /api/v1/widget/session opens, resumes and refreshes

  async session(includeMessages) {
    const saved = store.get();
    const body = { site_key: cfg.siteKey, include_messages: includeMessages };
    if (saved.refresh) body.resume = saved.refresh;
    const post = () =>
      fetch(`${API}/api/v1/widget/session`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
      });
    let res = await post();
    if (res.status === 401 && body.resume) {
      store.clear(); // a resume token the server no longer takes: start afresh
      delete body.resume;
      body.include_messages = true;
      res = await post();
    }
    const env = await envelope(res);
    if (!res.ok) throw new Error(errorText(env, res));
    const d = env.data;
    const changed = d.session_id !== this.sid;
    if (changed && this.sid) {
      this.resetLog();
      this.system("Your previous conversation has ended; this is a new one.");
    }
    this.sid = d.session_id;
    this.access = d.access_token;
    this.expiresAt = Date.now() + d.expires_in * 1000;
    store.set({ refresh: d.refresh_token, sid: d.session_id });
    clearTimeout(this.refreshTimer);
    const inMs = Math.max(30_000, d.expires_in * 1000 - REFRESH_EARLY_MS);
    this.refreshTimer = setTimeout(() => this.refresh().catch(() => {}), inMs);
    if (changed || includeMessages) this.renderHistory(d.messages);
    // Where live events start: nothing sent after this payload was read is missed.
    if (d.last_event_id && (changed || !this.lastEventId)) this.lastEventId = d.last_event_id;
    this.setHandoff(d.handoff);
    return d;
  }

  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.session(false).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async token() {
    await this.ready();
    if (!this.access || Date.now() > this.expiresAt - 30_000) await this.refresh();
    return this.access;
  }

  async api(path, { method = "GET", body, headers = {}, signal } = {}, retried = false) {
    const all = { ...headers, Authorization: `Bearer ${await this.token()}` };
    if (body !== undefined) all["Content-Type"] = "application/json";
    const res = await fetch(API + path, {
      method,
      headers: all,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "omit",
    });
    if (res.status === 401 && !retried) {
      await this.refresh();
      return this.api(path, { method, body, headers, signal }, true);
    }
    return res;
  }

  // -- a turn: POST messages, streamed

  async submit() {
    const text = this.input.value.trim();
    if (!text || this.busy) return;
    this.input.value = "";
    this.busy = true;
    this.sendBtn.disabled = true;
    const mine = this.addUser(text);
    try {
      await this.ready();
      await this.turn(text, mine, false);
    } catch {
      this.system("We couldn't reach the chat; please check your connection and try again.");
    } finally {
      this.busy = false;
      this.sendBtn.disabled = false;
      this.hideTyping();
      this.log.removeAttribute("aria-busy");
      this.input.focus();
    }
  }

  async turn(text, mine, retried) {
    const path = `/api/v1/chat/sessions/${this.sid}/messages`;
    if (!LIVE_STATES.has(this.handoff.state)) this.showTyping("Assistant is typing…");
    const res = await this.api(path, {
      method: "POST",
      body: { message: text },
      headers: { Accept: "text/event-stream" },
    });
    if (res.status === 410 && !retried) {
      await this.refresh(); // the session ended: resuming gives a new one
      this.log.append(mine);
      return this.turn(text, mine, true);
    }
    if (!res.ok) {
      this.system(errorText(await envelope(res), res));
      return;
    }
    if (!(res.headers.get("content-type") || "").includes("text/event-stream")) {
      const env = await envelope(res);
      this.onTurn(env.data, null, mine);
      return;
    }
    let bubble = null;
    let draft = "";
    this.log.setAttribute("aria-busy", "true"); // one announcement when the answer is complete
    for await (const ev of sse(res)) {
      if (ev.event === "token") {
        this.hideTyping();
        bubble = bubble || this.addBot();
        draft += (ev.data && ev.data.content) || "";
        bubble.textEl.textContent = draft;
        this.scroll();
      } else if (ev.event === "final") {
        this.onTurn(ev.data && ev.data.data, bubble, mine);
        bubble = null;
      } else if (ev.event === "error") {
        if (bubble) bubble.el.remove();
        bubble = null;
        this.system((ev.data && ev.data.message) || "Something went wrong; please try again.");
      }
    }
  }

  onTurn(d, bubble, mine) {
    this.hideTyping();
    if (!d) return;
    const sent = d.user_message || {};
    if (sent.message_id) {
      this.shown.add(sent.message_id);
      mine.dataset.messageId = sent.message_id;
    }
    if (d.handoff) this.setHandoff(d.handoff);
    if (!d.bot_response) {
      if (bubble) bubble.el.remove(); // a person holds the conversation: the bot says nothing
      return;
    }
    this.fillBot(bubble || this.addBot(), d.bot_response, d.bot_response.sources);
  }

  // -- a person: handoff request, email when offline, cancel

  async askPerson(email) {
    try {
      await this.ready();
      const body = { reason: "customer_request", ...(email ? { email } : {}) };
      const res = await this.api(`/api/v1/chat/sessions/${this.sid}/handoff`, { method: "POST", body });
      const env = await envelope(res);
      if (!res.ok) {
        if (email) this.emailError.textContent = errorText(env, res);
        else this.system(errorText(env, res));
        return;
      }
      this.emailError.textContent = "";
      if (env.data.message) this.system(env.data.message);
      if (env.data.last_event_id && !this.lastEventId) this.lastEventId = env.data.last_event_id;
      this.setHandoff(env.data.handoff);
      if (!this.emailForm.hidden) this.emailInput.focus();
      else this.input.focus();
    } catch {
      this.system("We couldn't reach the chat; please try again.");
    }
  }

  sendEmail(e) {
    e.preventDefault();
    const email = this.emailInput.value.trim();
    if (!email) {
      this.emailError.textContent = "Please enter your email address.";
      return;
    }
    this.askPerson(email);
  }

  async cancelPerson() {
    const res = await this.api(`/api/v1/chat/sessions/${this.sid}/handoff/cancel`, { method: "POST" });
    const env = await envelope(res);
    if (res.ok) this.setHandoff(env.data.handoff);
    else this.system(errorText(env, res));
  }

  // -- live events while a person is asked for or present

  followEvents() {
    if (this.events || !this.sid) return;
    const ctl = new AbortController();
    this.events = ctl;
    const sid = this.sid;
    (async () => {
      let delay = 1000;
      while (!ctl.signal.aborted && sid === this.sid) {
        try {
          const headers = { Accept: "text/event-stream" };
          if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
          const res = await this.api(`/api/v1/chat/sessions/${sid}/events`, { headers, signal: ctl.signal });
          if ([403, 404, 410].includes(res.status)) break;
          if (res.ok) {
            delay = 1000;
            for await (const ev of sse(res)) {
              if (ev.id) this.lastEventId = ev.id;
              this.onEvent(ev);
            }
          }
        } catch {
          if (ctl.signal.aborted) break;
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 30_000);
      }
      if (this.events === ctl) this.events = null;
    })();
  }

  stopEvents() {
    if (this.events) this.events.abort();
    this.events = null;
  }

  onEvent(ev) {
    const d = ev.data || {};
    if (ev.event === "message" && d.role === "agent" && !this.shown.has(d.message_id)) {
      this.hideTyping();
      this.addAgent(d.content, d.agent_name, d.message_id);
    } else if (ev.event === "handoff" && d.handoff) {
      const before = this.handoff.state;
      this.setHandoff(d.handoff);
      if (before !== "with_agent" && d.handoff.state === "with_agent") {
        const agent = d.handoff.assigned_agent;
        this.system(`${(agent && agent.name) || "A person"} joined the conversation.`);
      } else if (before === "with_agent" && !LIVE_STATES.has(d.handoff.state)) {
        this.system("The person has left the conversation.");
      }
    } else if (ev.event === "typing") {
      this.showTyping(`${d.name || "Agent"} is typing…`, 5000);
    }
  }
}

if (!cfg.siteKey) {
  console.warn("supportbot widget: the script tag needs data-site-key");
} else if (!customElements.get("supportbot-widget") && !document.querySelector("supportbot-widget")) {
  const start = () => {
    const widget = new Widget();
    if (store.get().open) widget.open();
  };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
}
