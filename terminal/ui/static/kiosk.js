// StallPay kiosk: renders the server's state (pushed as server-sent events) and posts what the operator asks.
// The server holds the truth (cart, payment flow, journal); this page only draws it, so a reload or a lost
// connection shows the same thing again.
"use strict";
(function () {
  const body = document.body;
  const page = body.dataset.page;
  const texts = JSON.parse(document.getElementById("texts").textContent);
  let state = null;
  window.stallpay = { renders: [] };  // render timestamps for the benchmark and the tests

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function get(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }

  function toast(message) {
    let el = document.getElementById("toast");
    if (!el) {
      el = document.createElement("div");
      el.id = "toast";
      el.setAttribute("role", "alert");
      el.dataset.testid = "toast";
      body.appendChild(el);
    }
    el.textContent = message;
    el.hidden = !message;
    clearTimeout(toast.timer);
    if (message) toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
  }

  function post(url, data) { return send("POST", url, data); }

  // Removing is two taps: the first arms the button (and says what will go), the second does it.
  function armed(el) {
    if (el.dataset.armed === "1") return true;
    el.dataset.armed = "1";
    el.dataset.label = el.textContent;
    el.textContent = adminText("confirm_remove", { what: el.dataset.value });
    setTimeout(() => { el.dataset.armed = ""; el.textContent = el.dataset.label; }, 4000);
    return false;
  }

  function adminText(key, values) {
    const node = document.getElementById("admin-texts");
    const all = node ? JSON.parse(node.textContent) : {};
    return (all[key] || key).replace(/%\((\w+)\)s/g, (m, k) => (values && values[k] != null ? values[k] : m));
  }

  function renderSelftest(st) {
    const box = document.getElementById("selftest");
    if (!box) return;
    box.dataset.running = st.running ? "yes" : "no";
    box.dataset.passed = st.passed == null ? "" : (st.passed ? "yes" : "no");
    box.querySelector("[data-st-at]").textContent = st.at || "";
    const rows = box.querySelector("[data-st-rows]");
    rows.textContent = "";
    st.checks.forEach((c) => {
      const tr = document.createElement("tr");
      tr.className = `r-${c.result}`;
      [["th", c.label], ["td", c.result_text], ["td", c.detail]].forEach(([tag, text], i) => {
        const cell = document.createElement(tag);
        cell.textContent = text;
        if (i === 1) cell.className = "result";
        if (i === 2) cell.className = "detail";
        tr.appendChild(cell);
      });
      rows.appendChild(tr);
    });
    const button = document.querySelector("[data-action=selftest]");
    if (button) button.disabled = !!st.running;
  }

  // The customer display's own token (given to it only on this board): its answers carry it.
  const displayToken = (document.querySelector('meta[name="display-token"]') || {}).content || "";

  async function send(method, url, data) {
    const headers = { "Content-Type": "application/json" };
    if (displayToken) headers["X-Display-Token"] = displayToken;
    const res = await fetch(url, {
      method, headers, body: JSON.stringify(data || {}),
      credentials: "same-origin",
    });
    let answer = {};
    try { answer = await res.json(); } catch (e) { answer = {}; }
    if (res.status === 401 && page !== "login" && page !== "display") { location.href = "/login"; }
    if (!res.ok) {
      const msg = answer.message || (answer.detail ? JSON.stringify(answer.detail) : texts.error);
      toast(msg);
      throw new Error(msg);
    }
    return answer;
  }

  function render(s) {
    state = s;
    body.dataset.phase = s.flow.phase;
    body.dataset.cart = s.cart.lines.length ? "full" : "empty";
    body.dataset.balance = s.balance ? (s.balance.error ? "error" : "card") : "none";
    body.dataset.payer = s.flow.result && s.flow.result.face_account ? "face" : "card";
    body.dataset.refund = s.flow.result && s.flow.result.refund !== undefined ? "yes" : "no";
    body.dataset.face = s.face && s.face.available ? "yes" : "no";
    body.dataset.distance = (s.face && s.face.distance) || "none";
    body.dataset.livenessOff = s.face && s.face.liveness_off ? "yes" : "no";
    body.dataset.sync = s.sync && s.sync.sales_blocked ? "blocked" : "ok";
    body.dataset.kind = s.flow.request ? s.flow.request.kind : "";
    body.dataset.queued = s.printer && s.printer.queued_text ? "yes" : "no";
    body.dataset.consent = s.face && s.face.consent ? "yes" : "no";
    leaveTimer(s.flow);
    resultTimer(s);
    const link = document.querySelector("[data-face-linked]");
    if (link && s.face) link.value = s.face.linked_uid || link.value;
    document.querySelectorAll("[data-bind]").forEach((el) => {
      const v = get(s, el.dataset.bind);
      el.textContent = v == null ? "" : v;
      if (el.classList.contains("printer-problem") || el.classList.contains("sync-blocked")) el.hidden = !v;
    });
    document.querySelectorAll("[data-list]").forEach((tbody) => {
      const tpl = tbody.querySelector("template");
      const rows = get(s, tbody.dataset.list) || [];
      tbody.querySelectorAll("tr").forEach((tr) => tr.remove());
      rows.forEach((row, i) => {
        const tr = tpl.content.firstElementChild.cloneNode(true);
        tr.dataset.index = row.index !== undefined ? row.index : i;
        tr.querySelectorAll("[data-f]").forEach((td) => {
          const v = row[td.dataset.f];
          td.textContent = v == null ? "" : v;
        });
        tbody.appendChild(tr);
      });
    });
    const flow = document.getElementById("flow");
    if (flow) flow.hidden = s.flow.phase === "idle";
    const bal = document.getElementById("balance");
    if (bal) bal.hidden = !(s.flow.phase === "idle" && s.balance);
    if (page !== "login" && page !== "display" && !s.operator) location.href = "/login";
    window.stallpay.renders.push({ version: s.flow.version, phase: s.flow.phase, at: performance.timeOrigin + performance.now() });
    if (window.stallpay.renders.length > 200) window.stallpay.renders.shift();
  }

  // A result or a balance closes itself after a few seconds: the next guest (or operator) never sees it.
  function resultTimer(s) {
    if (page === "display") return;
    const showing = s.flow.phase === "approved" || s.flow.phase === "declined" || (s.flow.phase === "idle" && s.balance);
    const key = showing ? `${s.flow.phase}:${s.flow.version}:${JSON.stringify(s.balance)}` : "";
    if (key === resultTimer.key) return;
    resultTimer.key = key;
    clearTimeout(resultTimer.timer);
    if (!showing) return;
    const seconds = Number(body.dataset.resultS || 6);
    resultTimer.timer = setTimeout(() => { if (resultTimer.key === key) post("/api/dismiss", { version: s.flow.version, balance_view: s.balance_view ?? null }).catch(() => {}); },
      seconds * 1000);
  }

  // A band pulled away mid-write: after a wait, any operator may leave the payment pending (the server checks).
  function leaveTimer(flow) {
    const left = flow.leave_after_s;
    clearTimeout(leaveTimer.timer);
    body.dataset.leave = left === 0 ? "yes" : "no";
    if (left) leaveTimer.timer = setTimeout(() => { body.dataset.leave = "yes"; }, left * 1000 + 200);
  }

  function connect() {
    const source = new EventSource("/api/events");
    source.addEventListener("state", (ev) => {
      const s = JSON.parse(ev.data);
      requestAnimationFrame(() => render(s));
      body.dataset.online = "yes";
    });
    source.addEventListener("selftest", (ev) => renderSelftest(JSON.parse(ev.data)));
    // Camera view while paying with face: JPEG snapshots on the same event stream.
    source.addEventListener("camera", (ev) => {
      const src = "data:image/jpeg;base64," + JSON.parse(ev.data).jpeg;
      document.querySelectorAll("img[data-camera]").forEach((img) => { img.src = src; });
    });
    source.onerror = () => { body.dataset.online = "no"; };
  }

  // Live camera view while enrolling (after consent only): a frame every 300 ms while the step is shown.
  function livePreview() {
    const img = document.getElementById("enroll-preview"), step = document.getElementById("enroll-step");
    if (!img || img.dataset.live) return;
    img.dataset.live = "yes";
    const next = () => {
      if (step.hidden || document.hidden) { delete img.dataset.live; return; }
      const probe = new Image();
      probe.onload = () => { img.src = probe.src; setTimeout(next, 300); };
      probe.onerror = () => setTimeout(next, 1000);
      probe.src = "/api/face/preview?t=" + Date.now();
    };
    next();
  }

  // --- actions ---------------------------------------------------------------------------------
  const actions = {
    async logout() { await post("/api/logout"); location.href = "/login"; },
    async language(el) { await post("/api/language", { value: el.dataset.value }); location.reload(); },
    async mode(el) { await post("/api/mode", { value: el.dataset.value }); location.href = "/"; },
    add(el) { return post("/api/cart/add", { sku: el.dataset.sku, qty: 1 }); },
    async "add-amount"() {
      const input = document.getElementById("amount-input");
      if (!input.value) return;
      await post("/api/cart/amount", { amount: input.value });
      input.value = "";
    },
    qty(el) {
      const tr = el.closest("tr");
      const line = state.cart.lines[Number(tr.dataset.index)];
      return post("/api/cart/set", { index: line.index, qty: Math.max(0, line.qty + Number(el.dataset.delta)) });
    },
    clear() { return post("/api/cart/clear"); },
    charge() {
      // One id per cart: pressing Charge twice (or a reload re-posting) is the same request.
      if (!actions.charge.id || actions.charge.version !== cartKey()) {
        actions.charge.id = newId();
        actions.charge.version = cartKey();
      }
      return post("/api/charge", { request_id: actions.charge.id });
    },
    face() {
      // The sale waiting for a tap switches to the camera; otherwise the cart is paid with the Charge button's id.
      if (state && state.flow.request && state.flow.phase === "waiting") {
        return post("/api/face/start", { request_id: state.flow.request.id });
      }
      if (!actions.charge.id || actions.charge.version !== cartKey()) {
        actions.charge.id = newId();
        actions.charge.version = cartKey();
      }
      return post("/api/face/start", { request_id: actions.charge.id });
    },
    "face-back"() { return post("/api/face/back"); },
    async "face-digits"() {
      const input = document.getElementById("factor-digits");
      const digits = input.value;
      input.value = "";
      await post("/api/face/digits", { digits });
    },
    "consent-lang"(el) {
      const texts = JSON.parse(document.getElementById("consent-texts").textContent);
      document.getElementById("consent-text").textContent = texts[el.dataset.value];
      document.getElementById("consent-box").dataset.language = el.dataset.value;
    },
    async "face-consent"() {
      const box = document.getElementById("consent-box");
      const answer = await post("/api/face/consent", { language: box.dataset.language || "en", agreed: true });
      const out = document.getElementById("consent-status");
      out.textContent = answer.text;
      out.dataset.status = answer.status;
      document.getElementById("enroll-step").hidden = true;
      awaitConsent(answer, out);  // not awaited: the operator's next presses need not wait for the guest
    },
    "print-statement"() { return post("/api/cards/statement", {}); },
    "guest-agree"() { return post("/api/display/consent", { account_id: state.face.consent.account_id, agreed: true }); },
    "guest-decline"() { return post("/api/display/consent", { account_id: state.face.consent.account_id, agreed: false }); },
    async "face-withdraw"() {
      const id = document.getElementById("face-account-id").value.trim();
      if (!id) return;
      const res = await fetch(`/api/face/accounts/${encodeURIComponent(id)}`, { credentials: "same-origin" });
      const a = await res.json();
      if (!res.ok) { toast(a.message || texts.error); return; }
      if (!window.confirm(`${document.getElementById("face-withdraw").dataset.confirm} ${id}`)) return;
      const w = await post("/api/face/withdraw", { account_id: id });
      document.getElementById("face-account-result").textContent = `${w.text} (${id})`;
      document.getElementById("face-account-result").dataset.withdrawn = w.erased ? "yes" : "no";
    },
    "face-link"() { return post("/api/face/link", { account_id: document.getElementById("enroll-account").value }); },
    async "face-enroll"() {
      const out = document.getElementById("enroll-result");
      out.textContent = "…";
      const answer = await post("/api/face/enroll", {
        account_id: document.getElementById("enroll-account").value,
        phone_digits: document.getElementById("enroll-phone").value,
        wristband_uid: document.getElementById("enroll-band").value,
      });
      out.textContent = answer.text;
      out.dataset.outcome = answer.outcome;
      if (answer.outcome === "enrolled") document.getElementById("face-account-id").value = answer.account_id;
    },
    async "face-show"() {
      const id = document.getElementById("face-account-id").value.trim();
      if (!id) return;
      const res = await fetch(`/api/face/accounts/${encodeURIComponent(id)}`, { credentials: "same-origin" });
      const a = await res.json();
      if (!res.ok) { toast(a.message || texts.error); return; }
      showFaceAccount(a);
    },
    async "face-topup"(el) {
      const a = await post("/api/face/topup", {
        account_id: document.getElementById("face-account-id").value.trim(), request_id: newId(),
        amount: document.getElementById("face-topup-amount").value || "0", method: el.dataset.method,
      });
      showFaceAccount(a);
    },
    async "face-checkout"() {
      const a = await post("/api/face/checkout", { account_id: document.getElementById("face-account-id").value.trim() });
      document.getElementById("face-account-result").textContent = a.text;
    },
    start(el) {
      const pick = (sel) => (sel ? (document.querySelector(sel) || {}).value || "" : "");
      return post("/api/start", {
        kind: el.dataset.kind, request_id: newId(), method: el.dataset.method || null,
        amount: pick(el.dataset.amountFrom) || "0", holder: pick(el.dataset.holderFrom), phone: pick(el.dataset.phoneFrom),
      });
    },
    cancel(el) { return post("/api/cancel", { force: el.dataset.force === "1" }); },
    retry() { return post("/api/retry"); },
    "refund-shown"() {
      return post("/api/cards/refund", { card: state.balance.card_id, amount: state.balance.refundable,
        request_id: newId() });
    },
    "replace-shown"() { return replaceCard(state.balance.card_id); },
    replace() { return replaceCard(Number(document.getElementById("lost-card").value.replace(/\D/g, ""))); },
    async "report-lost"() {
      const card = Number(document.getElementById("lost-card").value.replace(/\D/g, ""));
      const a = await post("/api/cards/lost", { card, reason: "lost" });
      document.getElementById("lost-result").textContent = a.text;
    },
    dismiss() { return post("/api/dismiss"); },
    reprint() { return post("/api/reprint"); },
    "print-report"() { return post("/api/report/print"); },
    async unlock(el) { await post(`/api/operators/${encodeURIComponent(el.dataset.value)}/unlock`); location.reload(); },
    async "receipt-policy"(el) { await post("/api/receipt-policy", { value: el.dataset.value }); location.reload(); },
    async selftest(el) { el.disabled = true; await post("/api/selftest"); },
    "reset-pin"(el) {
      const form = document.getElementById("pin-form");
      form.dataset.operator = el.dataset.value;
      form.querySelector("[data-pin-for]").textContent = adminText("pin_for", { id: el.dataset.value });
      form.hidden = false;
      form.pin.value = "";
      form.pin.focus();
    },
    async "remove-operator"(el) {
      if (!armed(el)) return;
      await send("DELETE", `/api/operators/${encodeURIComponent(el.dataset.value)}`);
      location.reload();
    },
    async "save-product"(el) {
      const row = el.closest("tr");
      const data = {};
      row.querySelectorAll("input[name]").forEach((i) => { data[i.name] = i.value; });
      await send("PUT", `/api/catalogue/${encodeURIComponent(el.dataset.value)}`, data);
      location.reload();
    },
    async "remove-product"(el) {
      if (!armed(el)) return;
      await send("DELETE", `/api/catalogue/${encodeURIComponent(el.dataset.value)}`);
      location.reload();
    },
    "sim-toggle"() { const b = document.querySelector(".sim-body"); b.hidden = !b.hidden; if (!b.hidden) loadSim(); },
    "sim-face"(el) {
      const spoof = document.querySelector("[data-sim-spoof]");
      return post("/sim/api/face", { photo: el.dataset.photo, spoof: !!(spoof && spoof.checked) });
    },
    async "sim-tap"(el) {
      const tear = document.querySelector("[data-sim-tear]");
      const t = tear && tear.checked ? 4 : null;
      if (tear) tear.checked = false;
      await post("/sim/api/tap", { card: el.dataset.card, tear: t });
    },
    async "sim-new"() { await post("/sim/api/new", {}); loadSim(); },
    "sim-remove"() { return post("/sim/api/remove", {}); },
  };

  // Capture opens only once the guest answered "I agree" on the customer display (the server enforces it too).
  async function awaitConsent(answer, out) {
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const res = await fetch(`/api/face/consent/${encodeURIComponent(answer.account_id)}`, { credentials: "same-origin" });
      if (!res.ok) return;
      const st = await res.json();
      out.textContent = st.text;
      out.dataset.status = st.status;
      if (st.status === "waiting") continue;
      if (st.status === "agreed") {
        document.getElementById("enroll-account").value = answer.account_id;
        document.getElementById("enroll-step").hidden = false;
        livePreview();
      }
      return;
    }
  }

  // Presses reach the server in the order they were made: a Charge pressed right after a product must
  // find that product in the cart, and two requests in flight at once may be served in either order.
  // A request that hangs holds the next ones back for at most QUEUE_WAIT_MS. While presses are on their way the
  // body says data-busy="yes" (the cursor shows progress; scripts that drive the kiosk wait for "no").
  const QUEUE_WAIT_MS = 10000;
  let pending = Promise.resolve(), inFlight = 0;
  function inOrder(fn) {
    inFlight += 1;
    body.dataset.busy = "yes";
    const run = () => Promise.race([Promise.resolve().then(fn).catch(() => {}),
      new Promise((r) => setTimeout(r, QUEUE_WAIT_MS))]);
    const done = () => { inFlight -= 1; body.dataset.busy = inFlight ? "yes" : "no"; };
    pending = pending.then(run).then(done);
    return pending;
  }

  function replaceCard(card) { return post("/api/cards/replace", { card, request_id: newId() }); }

  function showFaceAccount(a) {
    document.getElementById("face-balance").textContent = a.balance_fmt;
    document.getElementById("face-account-result").textContent = "";
    const rows = document.getElementById("face-history");
    rows.textContent = "";
    a.history.forEach((h) => {
      const tr = document.createElement("tr");
      [h.op_text, h.amount_fmt, h.method, h.time_fmt].forEach((v) => {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      });
      rows.appendChild(tr);
    });
  }

  function cartKey() { return state ? JSON.stringify(state.cart.lines) + state.flow.version : ""; }

  async function loadSim() {
    const box = document.querySelector("[data-sim-cards]");
    if (!box) return;
    const res = await fetch("/sim/api/cards");
    const cards = await res.json();
    box.textContent = "";
    const faceBox = document.querySelector("[data-sim-faces]");
    const faces = await (await fetch("/sim/api/faces")).json().catch(() => null);
    if (faceBox && faces && faces.photos) {
      faceBox.hidden = false;
      const photos = faceBox.querySelector("[data-sim-photos]");
      photos.textContent = "";
      [""].concat(faces.photos).forEach((name) => {
        const b = document.createElement("button");
        b.className = "small sim-card";
        b.dataset.action = "sim-face";
        b.dataset.photo = name;
        b.dataset.testid = `sim-face-${name ? name.replace(/\.[a-z]+$/, "") : "nobody"}`;
        b.textContent = name ? name.replace(/\.[a-z]+$/, "") : "∅";
        photos.appendChild(b);
      });
    }
    cards.forEach((c) => {
      const b = document.createElement("button");
      b.className = "small sim-card";
      b.dataset.action = "sim-tap";
      b.dataset.card = c.name;
      b.dataset.testid = `sim-${c.name}`;
      b.textContent = c.label;
      box.appendChild(b);
    });
  }

  document.addEventListener("click", (ev) => {
    const key = ev.target.closest("[data-key]");
    if (key) { keypad(key); return; }
    const fill = ev.target.closest("[data-fill]");
    if (fill) { document.querySelector(fill.dataset.fill).value = fill.dataset.value; return; }
    const tab = ev.target.closest("[data-tab]");
    if (tab) {
      const bar = tab.parentElement;
      bar.querySelectorAll("[data-tab]").forEach((t) => {
        t.classList.toggle("on", t === tab);
        const pane = document.getElementById(t.dataset.tab);
        if (pane) pane.hidden = t !== tab;
      });
      return;
    }
    const el = ev.target.closest("[data-action]");
    if (!el) return;
    ev.preventDefault();
    const fn = actions[el.dataset.action];
    if (fn) inOrder(() => fn(el));
  });

  let lastFocus = null;
  document.addEventListener("focusin", (ev) => { if (ev.target.tagName === "INPUT") lastFocus = ev.target; });
  function keypad(btn) {
    const pad = btn.closest("[data-keypad-target]");
    const sel = pad.dataset.keypadTarget;
    const input = sel === "focus" ? (lastFocus || document.querySelector("input")) : document.querySelector(sel);
    const k = btn.dataset.key;
    if (k === "⌫") input.value = input.value.slice(0, -1);
    else if (k === "C") input.value = "";
    else input.value += k;
  }

  // Keyboard-wedge barcode scanner: digits arriving fast and ending with Enter are one EAN-13.
  let scanBuf = "", scanAt = 0;
  document.addEventListener("keydown", (ev) => {
    if (page !== "sale") return;
    const now = performance.now();
    const scanField = document.getElementById("scan-input");
    if (ev.key === "Enter") {
      let code = "";
      if (document.activeElement === scanField) { code = scanField.value.trim(); scanField.value = ""; }
      else if (scanBuf.length >= 8 && now - scanAt < 100) code = scanBuf;
      scanBuf = "";
      if (code) { ev.preventDefault(); inOrder(() => post("/api/cart/scan", { code })); }
      return;
    }
    if (/^[0-9]$/.test(ev.key)) {
      scanBuf = now - scanAt < 100 ? scanBuf + ev.key : ev.key;
      scanAt = now;
    }
  });

  const loginForm = document.getElementById("login-form");
  if (loginForm) {
    loginForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const data = Object.fromEntries(new FormData(loginForm));
      const err = document.getElementById("login-error");
      try {
        await post("/api/login", data);
        location.href = "/";
      } catch (e) {
        err.textContent = e.message;
        loginForm.pin.value = "";
      }
    });
  }
  const operatorForm = document.getElementById("operator-form");
  if (operatorForm) {
    operatorForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await post("/api/operators", Object.fromEntries(new FormData(operatorForm))); location.reload(); }
      catch (e) { /* toast shown */ }
    });
  }

  const pinForm = document.getElementById("pin-form");
  if (pinForm) {
    pinForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const id = pinForm.dataset.operator;
      try {
        await post(`/api/operators/${encodeURIComponent(id)}/pin`, { pin: pinForm.pin.value });
        pinForm.pin.value = "";
        pinForm.hidden = true;
      } catch (e) { pinForm.pin.value = ""; }
    });
  }
  const productForm = document.getElementById("product-form");
  if (productForm) {
    productForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try { await post("/api/catalogue", Object.fromEntries(new FormData(productForm))); location.reload(); }
      catch (e) { /* toast shown */ }
    });
  }

  // Inactivity: the server ends the session too; this only takes the screen back to the login.
  const idle = Number(body.dataset.idleLogout || 0);
  if (idle > 0 && body.dataset.loginRequired === "yes") {
    let timer = null;
    const arm = () => { clearTimeout(timer); timer = setTimeout(() => actions.logout(), idle * 1000); };
    ["pointerdown", "keydown"].forEach((e) => document.addEventListener(e, arm, { passive: true }));
    arm();
  }

  connect();  // the login screen too: a tap while nobody is logged in shows the balance
})();
