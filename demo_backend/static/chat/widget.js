/*
 * Brightcart chat widget: a small vanilla-JS client for Rasa's Socket.IO channel.
 *
 * The store page provides <div id="chat-root" data-socket-url="http://rasa-host:5005"> and, for a
 * signed-in customer, <body data-customer-id="C0001" data-identity-token="<JWT>">. The widget
 *   - loads its CSS and the vendored socket.io client from its own folder (no CDN, works offline);
 *   - keeps the Rasa session id and the visible history in localStorage, and asks Rasa for the
 *     same session on every (re)connect (session_request), so a reload continues the conversation;
 *   - proves who is signed in with the page's short-lived signed identity token, sent when the
 *     socket connects (auth.identity_token); the server never takes a customer id from the client;
 *   - renders text (links clickable), buttons / quick replies and images, shows a typing
 *     indicator while the bot is working, and a notice when the connection drops and returns;
 *   - always offers "Talk to a person" (sends /request_human).
 * A different signed-in customer (or a guest) never sees another customer's conversation.
 */
(function () {
  "use strict";

  var root = document.getElementById("chat-root");
  if (!root || root.getAttribute("data-chat-ready")) return;
  root.setAttribute("data-chat-ready", "1");

  var script = document.currentScript || document.querySelector('script[src*="/chat/widget.js"]');
  var base = script ? script.src.replace(/widget\.js(\?.*)?$/, "") : "/static/chat/";
  var pageConfig = window.BRIGHTCART_CHAT || {};
  var socketUrl = root.getAttribute("data-socket-url") || pageConfig.socketUrl ||
    location.protocol + "//" + location.hostname + ":5005";
  var socketPath = root.getAttribute("data-socket-path") || pageConfig.socketPath || "/socket.io";
  var customerId = document.body.getAttribute("data-customer-id") || null;
  var identityToken = document.body.getAttribute("data-identity-token") || null;
  var customerName = document.body.getAttribute("data-customer-name") || "";

  var STORE_KEY = "brightcart.chat.v1";
  var MAX_HISTORY = 200;
  var TYPING_TIMEOUT_MS = 45000;
  var HUMAN_PAYLOAD = "/request_human";

  // --- persisted state -----------------------------------------------------------------------
  function loadState() {
    var empty = { sessionId: null, customer: customerId, history: [], open: false };
    try {
      var saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      // Another customer signed in (or out): start a new conversation, forget the old one.
      if (!saved || saved.customer !== customerId) return empty;
      saved.history = Array.isArray(saved.history) ? saved.history : [];
      return saved;
    } catch (e) {
      return empty;
    }
  }
  var state = loadState();
  function saveState() {
    state.history = state.history.slice(-MAX_HISTORY);
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (e) { /* private mode or full: the chat still works, without history */ }
  }

  // --- DOM -----------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "className") node.className = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function chatIcon() {  // inline SVG: no icon font or emoji font needed
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "bc-chat-launcher-icon");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
    svg.appendChild(path);
    [8, 12, 16].forEach(function (x) {
      var dot = document.createElementNS(ns, "circle");
      dot.setAttribute("cx", String(x));
      dot.setAttribute("cy", "10.5");
      dot.setAttribute("r", "1.4");
      dot.setAttribute("fill", "#0f6b5c");
      svg.appendChild(dot);
    });
    return svg;
  }

  var css = el("link", { rel: "stylesheet", href: base + "widget.css" });
  document.head.appendChild(css);

  var launcher = el("button", { type: "button", className: "bc-chat-launcher", "aria-expanded": "false",
    "aria-controls": "bc-chat-panel" }, [
    chatIcon(),
    el("span", { text: "Chat with us" }),
    el("span", { className: "bc-chat-badge", hidden: "hidden", "aria-label": "new messages" })
  ]);
  var badge = launcher.querySelector(".bc-chat-badge");
  var statusDot = el("span", { className: "bc-chat-status", title: "connecting" });
  var humanButton = el("button", { type: "button", className: "bc-chat-human", text: "Talk to a person" });
  var closeButton = el("button", { type: "button", className: "bc-chat-close", "aria-label": "Close chat", text: "×" });
  var notice = el("div", { className: "bc-chat-notice", role: "status", "aria-live": "polite", hidden: "hidden" });
  var log = el("ol", { className: "bc-chat-log", "aria-live": "polite", "aria-label": "Conversation" });
  var typing = el("div", { className: "bc-chat-typing", hidden: "hidden", "aria-label": "The assistant is typing" }, [
    el("span"), el("span"), el("span")
  ]);
  var input = el("input", { type: "text", className: "bc-chat-input", "aria-label": "Message", autocomplete: "off",
    placeholder: "Type your message…", maxlength: "1000" });
  var sendButton = el("button", { type: "submit", className: "bc-chat-send", text: "Send" });
  var form = el("form", { className: "bc-chat-form" }, [input, sendButton]);
  var panel = el("section", { id: "bc-chat-panel", className: "bc-chat-panel", role: "dialog",
    "aria-label": "Brightcart support chat", hidden: "hidden" }, [
    el("header", { className: "bc-chat-header" }, [
      el("div", { className: "bc-chat-title" }, [statusDot, el("span", { text: "Brightcart support" })]),
      humanButton, closeButton
    ]),
    notice, log, typing, form
  ]);
  root.appendChild(launcher);
  root.appendChild(panel);

  // --- rendering -----------------------------------------------------------------------------
  // Message data (bot text, button titles, link labels, image URLs) only ever becomes text nodes
  // (textContent) or a checked http(s) href/src: never HTML, never a javascript:/data: URL.
  function safeUrl(value) {
    if (typeof value !== "string" || !/^https?:\/\//i.test(value)) return null;
    try {
      var url = new URL(value, location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  var LINK_RE = /\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])|\*\*([^*]+)\*\*/g;

  function renderText(container, text) {
    String(text || "").split("\n").forEach(function (line, index) {
      if (index > 0) container.appendChild(document.createElement("br"));
      var last = 0;
      var match;
      LINK_RE.lastIndex = 0;
      while ((match = LINK_RE.exec(line)) !== null) {
        if (match.index > last) container.appendChild(document.createTextNode(line.slice(last, match.index)));
        if (match[4]) {
          container.appendChild(el("strong", { text: match[4] }));
        } else {
          var href = safeUrl(match[2] || match[3]);
          if (href) {
            container.appendChild(el("a", { href: href, target: "_blank", rel: "noopener noreferrer",
              text: match[1] || match[3] }));
          } else {
            container.appendChild(document.createTextNode(match[0]));
          }
        }
        last = LINK_RE.lastIndex;
      }
      if (last < line.length) container.appendChild(document.createTextNode(line.slice(last)));
    });
  }

  function clearQuickReplies() {
    Array.prototype.forEach.call(log.querySelectorAll(".bc-quick-replies"), function (node) {
      node.parentNode.removeChild(node);
    });
  }

  function renderEntry(entry, live) {
    var item = el("li", { className: "bc-msg bc-msg--" + entry.from });
    if (entry.text) {
      var bubble = el("div", { className: "bc-bubble" });
      renderText(bubble, entry.text);
      item.appendChild(bubble);
    }
    var image = safeUrl(entry.image);
    if (image) {
      item.appendChild(el("img", { className: "bc-image", src: image, alt: "" }));
    }
    var buttons = Array.isArray(entry.buttons) ? entry.buttons.filter(function (b) { return b && typeof b === "object"; }) : [];
    if (buttons.length && live) {
      var replies = el("div", { className: "bc-quick-replies", role: "group", "aria-label": "Suggested replies" });
      buttons.forEach(function (button) {
        var choice = el("button", { type: "button", className: "bc-quick-reply", text: String(button.title || button.payload || "") });
        choice.addEventListener("click", function () { send(button.payload || button.title, button.title); });
        replies.appendChild(choice);
      });
      item.appendChild(replies);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function renderHistory() {
    log.textContent = "";
    if (!state.history.length) {
      var hello = customerName ? "Hi " + customerName.split(" ")[0] + "! " : "Hi! ";
      renderEntry({ from: "intro", text: hello + "I'm Brightcart's assistant. Ask me about an order, a return, " +
        "a refund or your membership. You can ask for a person at any time." }, false);
    }
    state.history.forEach(function (entry, index) {
      // Only the newest message's buttons can still be used.
      renderEntry(entry, index === state.history.length - 1);
    });
  }

  function remember(entry, live) {
    state.history.push(entry);
    saveState();
    var intro = log.querySelector(".bc-msg--intro");
    if (intro && entry.from === "user") intro.parentNode.removeChild(intro);
    renderEntry(entry, live);
  }

  // --- notices and typing --------------------------------------------------------------------
  var noticeTimer = null;
  function showNotice(text, kind, hideAfterMs) {
    clearTimeout(noticeTimer);
    notice.textContent = text;
    notice.className = "bc-chat-notice bc-chat-notice--" + kind;
    notice.hidden = false;
    if (hideAfterMs) noticeTimer = setTimeout(function () { notice.hidden = true; }, hideAfterMs);
  }

  var typingTimer = null;
  function setTyping(on) {
    clearTimeout(typingTimer);
    typing.hidden = !on;
    if (on) {
      log.scrollTop = log.scrollHeight;
      typingTimer = setTimeout(function () { typing.hidden = true; }, TYPING_TIMEOUT_MS);
    }
  }

  var unread = 0;
  function setOpen(open) {
    state.open = open;
    saveState();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.classList.toggle("bc-chat-launcher--open", open);
    if (open) {
      unread = 0;
      badge.hidden = true;
      log.scrollTop = log.scrollHeight;
      input.focus({ preventScroll: true });
    }
  }

  // --- connection ----------------------------------------------------------------------------
  var socket = null;
  var ready = false;         // session confirmed: messages can be sent
  var everConnected = false;
  var dropped = false;

  function setReady(value) {
    ready = value;
    sendButton.disabled = !value;
    humanButton.disabled = !value;
    panel.classList.toggle("bc-chat-panel--offline", !value);
    statusDot.className = "bc-chat-status" + (value ? " bc-chat-status--online" : "");
    statusDot.title = value ? "connected" : "offline";
  }

  function send(payload, shownAs) {
    var text = String(payload || "").trim();
    if (!text || !ready) return false;
    clearQuickReplies();
    remember({ from: "user", text: shownAs || text, ts: Date.now() }, false);
    var message = { message: text, session_id: state.sessionId };
    socket.emit("user_uttered", message);
    setTyping(true);
    return true;
  }

  function onBotMessage(data) {
    if (!data || typeof data !== "object") return;
    setTyping(false);
    var attachment = data.attachment || {};
    var entry = {
      from: "bot",
      text: typeof data.text === "string" ? data.text : "",
      buttons: Array.isArray(data.quick_replies) ? data.quick_replies : Array.isArray(data.buttons) ? data.buttons : [],
      image: attachment.type === "image" && attachment.payload ? safeUrl(attachment.payload.src) : null,
      ts: Date.now()
    };
    if (!entry.text && !entry.buttons.length && !entry.image) return;
    clearQuickReplies();
    remember(entry, true);
    if (panel.hidden) {
      unread += 1;
      badge.textContent = String(unread);
      badge.hidden = false;
    }
  }

  function connect() {
    setReady(false);
    socket = window.io(socketUrl, { path: socketPath, transports: ["websocket", "polling"],
      reconnectionDelay: 1000, reconnectionDelayMax: 5000,
      auth: identityToken ? { identity_token: identityToken } : {} });
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: state.sessionId });
    });
    socket.on("session_confirm", function (sessionId) {
      var id = typeof sessionId === "string" ? sessionId : sessionId && sessionId.session_id;
      if (id) state.sessionId = id;
      saveState();
      setReady(true);
      if (dropped) showNotice("You're back online. You can carry on where you left off.", "ok", 5000);
      else notice.hidden = true;
      dropped = false;
      everConnected = true;
    });
    socket.on("bot_uttered", onBotMessage);
    socket.on("disconnect", function () {
      setReady(false);
      setTyping(false);
      dropped = true;
      showNotice("Connection lost. Trying to reconnect…", "warn");
    });
    socket.on("connect_error", function () {
      setReady(false);
      if (!everConnected) {
        dropped = true;
        showNotice("Can't reach the assistant right now. Trying again…", "warn");
      }
    });
  }

  // --- wiring --------------------------------------------------------------------------------
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); launcher.focus(); });
  humanButton.addEventListener("click", function () { send(HUMAN_PAYLOAD, "Talk to a person"); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (send(input.value)) input.value = "";
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) setOpen(false);
  });

  renderHistory();
  setReady(false);
  if (state.open) setOpen(true);

  // Expose a tiny API for the page and for tests.
  window.BrightcartChat = {
    open: function () { setOpen(true); },
    close: function () { setOpen(false); },
    send: function (text) { return send(text); },
    reset: function () { localStorage.removeItem(STORE_KEY); },
    get sessionId() { return state.sessionId; },
    get connected() { return ready; }
  };

  function start() {
    if (typeof window.io === "function") return connect();
    var loader = el("script", { src: base + "vendor/socket.io.min.js" });
    loader.onload = connect;
    loader.onerror = function () { showNotice("The chat could not load. Please reload the page.", "warn"); };
    document.head.appendChild(loader);
  }
  start();
})();
