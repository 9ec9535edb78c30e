// The Teams sandbox page: cards drawn with Microsoft's Adaptive Cards renderer (vendored, see vendor/README.md);
// each action sent back to the sandbox, which sends the bot what Teams would (an invoke or a message).
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const base = `/as/${encodeURIComponent(data.oid)}`;
  const md = window.markdownit(); // markdown-it's default preset (HTML off, linkify off), as Teams renders text
  const cards = {};
  data.ids.forEach((id, i) => { cards[id] = data.cards[i]; });
  const USERS_DATASET = "graph.microsoft.com/users";

  // Teams-like colours (WCAG AA on white: text 4.5:1).
  const HOST_CONFIG = {
    fontFamily: '"Segoe UI", system-ui, -apple-system, sans-serif',
    supportsInteractivity: true,
    textBlock: {headingLevel: 3}, // a card's headings sit under the page's "Messages" (h2)
    actions: {actionsOrientation: "horizontal", actionAlignment: "left", buttonSpacing: 8, maxActions: 6,
              showCard: {actionMode: "inline"}},
    containerStyles: {
      default: {backgroundColor: "#FFFFFF", foregroundColors: {
        default: {default: "#242424", subtle: "#5C5C5C"}, accent: {default: "#4F52B2", subtle: "#4F52B2"},
        attention: {default: "#B3243B", subtle: "#B3243B"}, good: {default: "#0E6B35", subtle: "#0E6B35"},
        warning: {default: "#7A5200", subtle: "#7A5200"}, dark: {default: "#242424", subtle: "#5C5C5C"},
        light: {default: "#5C5C5C", subtle: "#5C5C5C"}}},
      emphasis: {backgroundColor: "#F5F5F5", foregroundColors: {
        default: {default: "#242424", subtle: "#5C5C5C"}, accent: {default: "#4F52B2", subtle: "#4F52B2"},
        attention: {default: "#B3243B", subtle: "#B3243B"}, good: {default: "#0E6B35", subtle: "#0E6B35"},
        warning: {default: "#7A5200", subtle: "#7A5200"}, dark: {default: "#242424", subtle: "#5C5C5C"},
        light: {default: "#5C5C5C", subtle: "#5C5C5C"}}},
    },
  };

  // Teams draws <at>Name</at> as a highlighted name (the message's mention entities say who): here, in bold.
  const mentions = (text) => text.replace(/<at>([\s\S]*?)<\/at>/g, "**$1**");

  // What Teams does before drawing: mentions, and Graph's people picker (Data.Query over the directory)
  // as a choice of the tenant's people (Teams searches the directory as you type; the sandbox lists it).
  function prepare(node) {
    if (Array.isArray(node)) return node.map(prepare);
    if (!node || typeof node !== "object") return node;
    const out = {};
    for (const [key, value] of Object.entries(node)) out[key] = prepare(value);
    if (typeof out.text === "string" && (out.type === "TextBlock" || out.type === "TextRun")) out.text = mentions(out.text);
    if (out.type === "FactSet" && Array.isArray(out.facts)) {
      out.facts = out.facts.map((f) => ({...f, title: mentions(String(f.title ?? "")), value: mentions(String(f.value ?? ""))}));
    }
    const query = out["choices.data"];
    if (out.type === "Input.ChoiceSet" && query && query.dataset === USERS_DATASET) {
      const seen = new Set((out.choices || []).map((c) => c.value));
      out.choices = [...(out.choices || []), ...data.directory.filter((p) => !seen.has(p.value))];
      delete out["choices.data"];
      out.style = "compact";
    }
    return out;
  }

  function draw(card, host, onAction) {
    const adaptive = new AdaptiveCards.AdaptiveCard();
    adaptive.hostConfig = new AdaptiveCards.HostConfig(HOST_CONFIG);
    adaptive.onExecuteAction = onAction;
    try {
      adaptive.parse(prepare(card));
      host.replaceChildren(adaptive.render());
      drawEmoji(host);
    } catch (err) {
      host.textContent = "This card could not be displayed.";
      host.classList.add("teams-error");
    }
  }

  // The bot's emoji drawn as named SVG images (the server's drawings), so the page needs no emoji font.
  const emojiSource = `(${Object.keys(data.emoji).join("|")})\uFE0F?`;
  const emojiPattern = new RegExp(emojiSource, "gu");
  const hasEmoji = new RegExp(emojiSource, "u"); // no "g": test() keeps no position between nodes
  function drawEmoji(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const found = [];
    while (walker.nextNode()) if (hasEmoji.test(walker.currentNode.nodeValue)) found.push(walker.currentNode);
    for (const node of found) {
      const parts = document.createDocumentFragment();
      let last = 0;
      const text = node.nodeValue;
      for (const match of text.matchAll(emojiPattern)) {
        parts.append(text.slice(last, match.index));
        const [label, drawing] = data.emoji[match[1]];
        const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
        svg.setAttribute("viewBox", "0 0 16 16");
        svg.setAttribute("width", "16");
        svg.setAttribute("height", "16");
        svg.setAttribute("class", "emoji");
        svg.setAttribute("role", "img");
        svg.setAttribute("aria-label", label);
        svg.setAttribute("focusable", "false");
        svg.innerHTML = drawing; // the server's own drawing, never card text
        parts.append(svg);
        last = match.index + match[0].length;
      }
      parts.append(text.slice(last));
      node.replaceWith(parts);
    }
  }

  let busy = false;
  async function post(path, payload, focus) {
    if (busy) return;
    busy = true;
    document.body.classList.add("busy");
    if (focus) sessionStorage.setItem("pmccg-focus", focus);
    try {
      await fetch(base + path, {method: "POST", headers: {"Content-Type": "application/json"},
                                body: JSON.stringify(payload)});
    } finally {
      location.reload();
    }
  }

  const onMessageAction = (messageId) => (action) => {
    const type = action.getJsonTypeName();
    if (type === "Action.Execute") {
      post("/execute", {chat: data.chat, activity: messageId, verb: action.verb, data: action.data || {}});
    } else if (type === "Action.Submit") {
      post("/submit", {chat: data.chat, activity: messageId, data: action.data ?? {}}, "dialog");
    } else if (type === "Action.OpenUrl") {
      window.open(action.url, "_blank", "noopener");
    }
  };

  document.querySelectorAll(".card-host").forEach((host) => {
    const id = host.dataset.message;
    const card = (cards[id] || [])[Number(host.dataset.index)];
    if (card) draw(card, host, onMessageAction(id));
  });
  document.querySelectorAll(".text[data-markdown]").forEach((el) => {
    if (el.dataset.markdown) el.innerHTML = md.render(mentions(el.textContent));
    drawEmoji(el);
  });

  // The dialog: every Action.Submit in it is a task/submit with the inputs merged into its data.
  const dialogHost = document.getElementById("dialog-card");
  if (dialogHost && data.dialog) {
    draw(data.dialog, dialogHost, (action) => {
      if (action.getJsonTypeName() === "Action.OpenUrl") window.open(action.url, "_blank", "noopener");
      else post("/dialog/submit", {data: action.data ?? {}}, "dialog");
    });
    const modal = document.querySelector(".modal");
    const close = () => post("/dialog/close", {}, "composer");
    document.getElementById("dialog-close").addEventListener("click", close);
    modal.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.preventDefault(); close(); }
      if (event.key !== "Tab") return;
      const focusable = [...modal.querySelectorAll("button, input, select, textarea, [tabindex='0']")]
        .filter((e) => !e.disabled && e.offsetParent !== null);
      if (!focusable.length) return;
      const first = focusable[0], last = focusable[focusable.length - 1];
      if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
      else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
    });
    // Focus on the first field the bot marked with an error (the attention text under it), else the first field.
    const errorText = [...dialogHost.querySelectorAll(".ac-textBlock")].find((t) => getComputedStyle(t).color === "rgb(179, 36, 59)");
    let target = null;
    if (errorText) {
      const inputs = [...dialogHost.querySelectorAll("input, select, textarea")];
      target = inputs.filter((i) => i.compareDocumentPosition(errorText) & Node.DOCUMENT_POSITION_FOLLOWING).pop() || null;
      if (target) target.setAttribute("aria-invalid", "true");
    }
    (target || dialogHost.querySelector("input, select, textarea") || modal).focus();
  } else {
    const wanted = sessionStorage.getItem("pmccg-focus");
    sessionStorage.removeItem("pmccg-focus");
    const messages = document.getElementById("messages");
    if (messages) messages.scrollTop = messages.scrollHeight;
    if (wanted === "composer" || wanted === "dialog") document.getElementById("composer")?.focus();
  }

  document.querySelectorAll(".file-consent .consent").forEach((button) => {
    const card = button.closest(".file-consent");
    button.addEventListener("click", () => post("/consent", {activity: card.dataset.message,
                                                             accept: Boolean(button.dataset.accept)}, "composer"));
  });

  const composer = document.getElementById("composer-form");
  if (composer) {
    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = document.getElementById("composer").value.trim();
      if (text) post("/say", {chat: data.chat, text}, "composer");
    });
  }
  document.querySelectorAll(".clock-buttons button").forEach((button) => {
    button.addEventListener("click", () => post("/clock", {step: button.dataset.step}, button.id));
  });
  const toggle = document.getElementById("app-toggle");
  toggle?.addEventListener("click", () => post("/app", {installed: !toggle.dataset.installed}, "app-toggle"));
  document.getElementById("dismiss")?.addEventListener("click", () => post("/dismiss", {}, "composer"));
  const wanted = sessionStorage.getItem("pmccg-focus");
  if (wanted && document.getElementById(wanted)) { sessionStorage.removeItem("pmccg-focus"); document.getElementById(wanted).focus(); }

  // Reload when something changed (a scheduled message, another person's answer), unless something is being typed.
  const live = document.getElementById("live-updates");
  live.checked = localStorage.getItem("pmccg-live") !== "off";
  live.addEventListener("change", () => localStorage.setItem("pmccg-live", live.checked ? "on" : "off"));
  const typing = () => {
    const e = document.activeElement;
    return data.dialog || (e && ["INPUT", "TEXTAREA", "SELECT"].includes(e.tagName) && e.type !== "checkbox" && e.value);
  };
  setInterval(async () => {
    if (!live.checked || busy || typing()) return;
    try {
      const answer = await (await fetch("/version")).json();
      if (answer.version !== data.version) location.reload();
    } catch (err) { /* the sandbox stopped: nothing to do */ }
  }, 2000);
})();
