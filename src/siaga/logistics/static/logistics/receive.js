// The receiver's scanner for one BAST. Each package label and each seal is read by the camera
// (the browser's BarcodeDetector, where there is one) or typed by thumbs or a hand scanner
// (which types the code and presses Enter). Every scan gets its own id here and waits in this
// phone's storage until the server has answered it: a scan made without a connection is sent
// when the connection comes back, and one sent twice is recorded once. No library.
(function () {
  "use strict";
  const root = document.getElementById("receive");
  const data = document.getElementById("receive-expected");
  if (!root || !data) return;
  const expected = JSON.parse(data.textContent);
  const handover = expected.handover;
  const QUEUE_KEY = "siaga.custody.queue." + handover;
  const LOG_KEY = "siaga.custody.log." + handover;
  const PACKAGE_PREFIX = "SIAGA-PKG:";
  const BATCH = 200;
  const LOG_KEEP = 100;
  const msg = root.dataset;
  const url = msg.scansUrl;
  const csrf = root.querySelector("[name=csrfmiddlewaretoken]").value;

  const form = document.getElementById("scan-form");
  const input = document.getElementById("scan-input");
  const logList = document.getElementById("scan-log");
  const queueStatus = document.getElementById("queue-status");
  const currentShown = document.getElementById("current-package");
  const progress = document.getElementById("receive-progress");
  const checklist = document.getElementById("checklist");
  const signForm = document.getElementById("sign-form");

  const packages = new Map(Object.entries(expected.packages));
  const sealOwner = new Map();
  packages.forEach((seals, code) => seals.forEach((serial) => sealOwner.set(serial, code)));
  const received = new Set(expected.received);
  const seen = new Set(expected.seen);

  function load(key) {
    try {
      const value = JSON.parse(window.localStorage.getItem(key) || "[]");
      return Array.isArray(value) ? value : [];
    } catch (_error) {
      return [];
    }
  }
  function save(key, value) {
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
    } catch (_error) {
      // Storage full or refused (a private window): the scans still go out while the page lives.
    }
  }
  let queue = load(QUEUE_KEY);
  let log = load(LOG_KEY);
  let currentPackage = "";
  let sending = false;
  let failures = 0;
  let retryTimer = null;

  // A UUIDv7 (time-ordered, as the server makes them) from crypto.getRandomValues, which works
  // over plain http too, unlike crypto.randomUUID.
  function uuid7() {
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    let time = Date.now();
    for (let i = 5; i >= 0; i--) {
      bytes[i] = time % 256;
      time = Math.floor(time / 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x70;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  // What a code is: a package label says so; codes on this BAST are known; the switch decides
  // for any other (a package bound elsewhere, a seal that is not the BAST's).
  function classify(raw) {
    const text = raw.trim().toUpperCase();
    if (text.startsWith(PACKAGE_PREFIX)) return { action: "receive", code: text.slice(PACKAGE_PREFIX.length).trim() };
    if (packages.has(text)) return { action: "receive", code: text };
    if (sealOwner.has(text)) return { action: "seal", code: text };
    const chosen = form.querySelector("input[name=kind]:checked");
    return { action: chosen ? chosen.value : "seal", code: text };
  }

  function tone(entry) {
    if (entry.status === undefined) return "pending";
    if (entry.status === 201) return "ok";
    if (entry.status < 400) return "already";
    if (entry.status === 422) return "invalid";
    return "refused";
  }

  function renderEntry(entry) {
    let item = logList.querySelector(`[data-scan="${entry.id}"]`);
    if (!item) {
      item = document.createElement("li");
      item.dataset.scan = entry.id;
      logList.prepend(item);
    }
    const state = tone(entry);
    item.className = "scan-line scan-" + state;
    item.dataset.status = entry.status === undefined ? "" : String(entry.status);
    item.textContent = "";
    const kind = document.createElement("span");
    kind.className = "scan-kind";
    kind.textContent = entry.action === "seal" ? msg.msgSeal : msg.msgPackage;
    const code = document.createElement("span");
    code.className = "font-monospace fw-semibold";
    code.textContent = entry.code;
    const text = document.createElement("span");
    text.className = "scan-message";
    text.textContent = state === "pending" ? msg.msgPending : `${entry.status} · ${entry.message || ""}`;
    item.append(kind, " ", code, " ", text);
  }

  function remember(entry) {
    const at = log.findIndex((e) => e.id === entry.id);
    if (at >= 0) log[at] = entry;
    else log.push(entry);
    if (log.length > LOG_KEEP) log = log.slice(-LOG_KEEP);
    save(LOG_KEY, log);
    renderEntry(entry);
  }

  function markProgress() {
    if (checklist) {
      checklist.querySelectorAll("[data-package]").forEach((row) => {
        row.classList.toggle("received", received.has(row.dataset.package));
      });
      checklist.querySelectorAll("[data-seal]").forEach((chip) => {
        chip.classList.toggle("seal-seen", seen.has(chip.dataset.seal));
      });
    }
    let sealCount = 0;
    let sealSeen = 0;
    packages.forEach((seals) => {
      sealCount += seals.length;
      sealSeen += seals.filter((s) => seen.has(s)).length;
    });
    const got = Array.from(packages.keys()).filter((c) => received.has(c)).length;
    if (progress) progress.textContent = `${got}/${packages.size} · ${sealSeen}/${sealCount}`;
  }

  function showQueue(note) {
    if (note) queueStatus.textContent = note;
    else if (queue.length) queueStatus.textContent = `${queue.length} ${msg.msgWaiting}`;
    else queueStatus.textContent = msg.msgAllSent;
    queueStatus.classList.toggle("text-danger", Boolean(note) || (queue.length > 0 && failures > 0));
  }

  function setCurrent(code) {
    currentPackage = code;
    currentShown.textContent = code || "—";
  }

  function add(raw) {
    const { action, code } = classify(raw);
    if (!code) return;
    const scan = { id: uuid7(), action, code, handover, at: new Date().toISOString() };
    if (action === "seal") {
      const owner = sealOwner.get(code) || currentPackage;
      if (owner) scan.package = owner;
    } else {
      setCurrent(code);
    }
    queue.push(scan);
    save(QUEUE_KEY, queue);
    remember({ id: scan.id, action, code });
    showQueue();
    flush();
  }

  function answered(result, scan) {
    const entry = { id: result.id, action: scan.action, code: scan.code, status: result.status, message: result.message };
    if (result.status < 400) {
      if (scan.action === "receive") received.add(scan.code);
      else seen.add(scan.code);
    }
    if (result.package && scan.action === "receive" && result.status < 400) setCurrent(result.package);
    if (result.status >= 400 && navigator.vibrate) navigator.vibrate([200, 100, 200]);
    remember(entry);
  }

  function later() {
    failures += 1;
    const wait = Math.min(30000, 2000 * 2 ** Math.min(failures - 1, 4));
    window.clearTimeout(retryTimer);
    retryTimer = window.setTimeout(flush, wait);
  }

  async function flush() {
    if (sending || !queue.length) {
      showQueue();
      return;
    }
    sending = true;
    window.clearTimeout(retryTimer);
    showQueue(navigator.onLine === false ? msg.msgOffline : "");
    const batch = queue.slice(0, BATCH);
    let again = false;
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ scans: batch }),
      });
      if (response.status === 401 || response.status === 403) {
        showQueue(msg.msgSignin);
        later();
      } else if (response.status >= 500 || response.status === 429 || response.status === 408) {
        later();
        showQueue(msg.msgOffline);
      } else if (!response.ok) {
        // The batch itself was refused (a malformed request): retrying cannot help, so each
        // scan in it is shown as refused and taken off the queue.
        let message = msg.msgRefused;
        try {
          const body = await response.json();
          message = body.message || message;
        } catch (_error) {
          // Not JSON: keep the general message.
        }
        const ids = new Set(batch.map((s) => s.id));
        batch.forEach((scan) => remember({ id: scan.id, action: scan.action, code: scan.code, status: response.status, message }));
        queue = queue.filter((s) => !ids.has(s.id));
        save(QUEUE_KEY, queue);
        failures = 0;
        again = queue.length > 0;
      } else {
        const body = await response.json();
        const byId = new Map(batch.map((s) => [s.id, s]));
        const done = new Set();
        (body.results || []).forEach((result) => {
          const scan = byId.get(result.id);
          if (!scan) return;
          done.add(result.id);
          answered(result, scan);
        });
        queue = queue.filter((s) => !done.has(s.id));
        save(QUEUE_KEY, queue);
        failures = 0;
        markProgress();
        again = queue.length > 0 && done.size > 0;
        if (queue.length && !done.size) later();
      }
    } catch (_error) {
      showQueue(msg.msgOffline);
      later();
    } finally {
      sending = false;
    }
    if (again) flush();
    else if (!failures) showQueue();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    add(input.value);
    input.value = "";
    input.focus();
  });

  if (signForm) {
    signForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (queue.length) await flush();
      if (queue.length && !window.confirm(msg.msgUnsent)) return;
      save(QUEUE_KEY, []);
      save(LOG_KEY, []);
      // submit(), not requestSubmit(): this handler must not run again.
      signForm.submit();
    });
  }

  // The camera, where the browser can read QR codes and seal barcodes itself.
  const start = document.getElementById("camera-start");
  const video = document.getElementById("camera-video");
  const cameraStatus = document.getElementById("camera-status");
  let stream = null;
  let lastValue = "";
  let lastAt = 0;

  function stop() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.classList.add("d-none");
  }

  async function look(detector) {
    if (!stream) return;
    try {
      const codes = await detector.detect(video);
      const now = Date.now();
      codes.forEach((code) => {
        const value = (code.rawValue || "").trim();
        // The same code in front of the camera is read many times a second: once is enough.
        if (!value || (value === lastValue && now - lastAt < 3000)) return;
        lastValue = value;
        lastAt = now;
        if (navigator.vibrate) navigator.vibrate(60);
        add(value);
      });
    } catch (_error) {
      // A frame that could not be read: try the next one.
    }
    window.setTimeout(() => look(detector), 200);
  }

  const camera = navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  if ("BarcodeDetector" in window && camera && start && video) {
    start.classList.remove("d-none");
    start.addEventListener("click", async () => {
      if (stream) {
        stop();
        return;
      }
      let detector;
      try {
        const supported = await window.BarcodeDetector.getSupportedFormats();
        const wanted = ["qr_code", "code_128", "code_39", "ean_13", "data_matrix"].filter((f) => supported.includes(f));
        if (!wanted.includes("qr_code")) throw new Error("no QR");
        detector = new window.BarcodeDetector({ formats: wanted });
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      } catch (_error) {
        stop();
        cameraStatus.textContent = msg.msgNoCamera;
        start.classList.add("d-none");
        input.focus();
        return;
      }
      video.srcObject = stream;
      video.classList.remove("d-none");
      await video.play().catch(() => {});
      cameraStatus.textContent = msg.msgPoint;
      look(detector);
    });
    window.addEventListener("pagehide", stop);
  } else {
    input.focus();
  }

  log.forEach(renderEntry);
  // The package being checked: the last one this phone received, after a reload too.
  const lastPackage = log.filter((e) => e.action === "receive" && e.status !== undefined && e.status < 400).pop();
  if (lastPackage) setCurrent(lastPackage.code);
  markProgress();
  showQueue();
  window.addEventListener("online", () => {
    failures = 0;
    flush();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") flush();
  });
  flush();
})();
