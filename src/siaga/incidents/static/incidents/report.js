// The one-tap report. A guard's phone in a warehouse yard loses its connection often, so a
// report is first kept on the phone (IndexedDB, the photo as a Blob), then sent to the API and
// sent again, with growing pauses, until the server has answered 200 or 201 — after a reload
// too. The report's id is chosen here, so however often it is sent the server keeps it once.
// Without JavaScript the form still posts to the page itself.
(function () {
  "use strict";
  const form = document.getElementById("report-form");
  if (!form || !window.fetch || !window.FormData) return;
  const text = form.dataset;
  const statusList = document.getElementById("report-status");
  const DB_NAME = "siaga-reports";
  const STORE = "pending";
  const PAUSES_MS = [1000, 2000, 5000, 10000, 20000, 30000, 60000];
  const NO_ID = "00000000-0000-0000-0000-000000000000";

  // ------------------------------------------------------------------------------------------
  // Ids: crypto.randomUUID needs a secure context; a warehouse laptop on plain http has only
  // getRandomValues, which makes the same random (version 4) UUID.

  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  const reference = (id) => "INS-" + id.slice(-6).toUpperCase();

  // ------------------------------------------------------------------------------------------
  // The phone's own store of reports not yet acknowledged by the server. Where IndexedDB is
  // missing (some private windows) the reports live in memory until the page closes.

  const memory = new Map();
  const database = new Promise((resolve) => {
    try {
      const opening = window.indexedDB.open(DB_NAME, 1);
      opening.onupgradeneeded = () => opening.result.createObjectStore(STORE, { keyPath: "id" });
      opening.onsuccess = () => resolve(opening.result);
      opening.onerror = () => resolve(null);
      opening.onblocked = () => resolve(null);
    } catch (_error) {
      resolve(null);
    }
  });

  function finished(transaction) {
    return new Promise((resolve, reject) => {
      transaction.oncomplete = () => resolve();
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  }

  async function keep(record) {
    const db = await database;
    if (!db) { memory.set(record.id, record); return; }
    try {
      const transaction = db.transaction(STORE, "readwrite");
      transaction.objectStore(STORE).put(record);
      await finished(transaction);
    } catch (_error) {
      memory.set(record.id, record); // the phone is full: keep it for this visit at least
    }
  }

  async function forget(id) {
    memory.delete(id);
    const db = await database;
    if (!db) return;
    const transaction = db.transaction(STORE, "readwrite");
    transaction.objectStore(STORE).delete(id);
    await finished(transaction).catch(() => undefined);
  }

  async function waiting() {
    const db = await database;
    if (!db) return Array.from(memory.values());
    return new Promise((resolve) => {
      const reading = db.transaction(STORE, "readonly").objectStore(STORE).getAll();
      reading.onsuccess = () => resolve(reading.result.concat(Array.from(memory.values())));
      reading.onerror = () => resolve(Array.from(memory.values()));
    });
  }

  // ------------------------------------------------------------------------------------------
  // What the guard sees: one line per report.

  function line(record) {
    let item = statusList.querySelector(`li[data-id="${record.id}"]`);
    if (!item) {
      item = document.createElement("li");
      item.dataset.id = record.id;
      item.className = "alert py-2 px-3 mb-2";
      statusList.prepend(item);
    }
    return item;
  }

  function show(record, state, detail) {
    const item = line(record);
    item.dataset.state = state;
    item.replaceChildren();
    const head = document.createElement("strong");
    head.textContent = `${record.label || ""} · ${reference(record.id)} `;
    const body = document.createElement("span");
    if (state === "sent") {
      item.className = "alert alert-success py-2 px-3 mb-2";
      head.textContent = `${text.msgSent} ${(detail && detail.reference) || reference(record.id)} `;
      const link = document.createElement("a");
      link.href = text.detail.replace(NO_ID, record.id);
      link.textContent = text.msgOpen;
      link.className = "alert-link";
      body.append(record.label ? `${record.label} · ` : "", link);
      if (record.photoDropped) body.append(` · ${text.msgPhotoDropped}`);
      // The server kept the report and refused its photo (not an image, or too large).
      if (detail && detail.photo_refused) {
        body.append(` · ${text.msgPhotoRefused} ${detail.photo_refused.message || ""}`);
      }
    } else if (state === "refused") {
      item.className = "alert alert-danger py-2 px-3 mb-2";
      body.textContent = `${text.msgRefused} ${(detail && detail.message) || ""}`;
    } else if (state === "signin") {
      item.className = "alert alert-warning py-2 px-3 mb-2";
      body.textContent = text.msgSignin;
    } else if (state === "retry") {
      item.className = "alert alert-warning py-2 px-3 mb-2";
      body.textContent = text.msgRetry.replace("%(seconds)s", String(Math.round(detail.pause / 1000)));
    } else {
      item.className = "alert alert-info py-2 px-3 mb-2";
      body.textContent = state === "saved" ? text.msgSaved : text.msgSending;
    }
    item.append(head, body);
  }

  // ------------------------------------------------------------------------------------------
  // Sending, and sending again.

  const timers = new Map();
  const sending = new Set();

  function csrfToken() {
    const field = form.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  async function answerOf(response) {
    try { return await response.json(); } catch (_error) { return {}; }
  }

  function later(record) {
    record.attempts = (record.attempts || 0) + 1;
    const base = PAUSES_MS[Math.min(record.attempts - 1, PAUSES_MS.length - 1)];
    const pause = Math.round(base * (0.8 + Math.random() * 0.4));
    show(record, "retry", { pause });
    clearTimeout(timers.get(record.id));
    timers.set(record.id, setTimeout(() => send(record), pause));
    return keep(record);
  }

  async function send(record) {
    if (sending.has(record.id)) return;
    sending.add(record.id);
    clearTimeout(timers.get(record.id));
    timers.delete(record.id);
    show(record, "sending");
    let response = null;
    try {
      const body = new FormData();
      body.append("id", record.id);
      for (const [name, value] of Object.entries(record.fields)) {
        if (value !== "" && value !== null && value !== undefined) body.append(name, value);
      }
      if (record.photo) body.append("photo", record.photo, record.photoName || "foto.jpg");
      response = await fetch(text.api, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      });
    } catch (_error) {
      response = null; // no connection: try again
    } finally {
      sending.delete(record.id);
    }
    if (response && (response.status === 200 || response.status === 201)) {
      const answer = await answerOf(response);
      await forget(record.id);
      show(record, "sent", answer);
      return;
    }
    if (!response || response.status >= 500 || response.status === 408 || response.status === 429) {
      await later(record);
      return;
    }
    const answer = await answerOf(response);
    if (response.status === 413 && record.photo) {
      // A proxy in front of the server may still refuse a large upload as a whole: send the
      // report without its picture rather than not at all.
      record.photo = null;
      record.photoDropped = true;
      await keep(record);
      await send(record);
      return;
    }
    if (response.status === 401 || (response.status === 403 && answer.code === "forbidden")) {
      // Signed out, or the page's CSRF token went stale: keep it for after signing in.
      show(record, "signin");
      return;
    }
    await forget(record.id);
    show(record, "refused", answer);
  }

  async function sendAll() {
    const records = await waiting();
    records.sort((a, b) => a.createdAt - b.createdAt);
    for (const record of records) send(record);
  }

  // ------------------------------------------------------------------------------------------
  // The form.

  let photo = null;
  let photoName = "";
  let severityChosen = Boolean(form.querySelector("input[name=severity]:checked"));
  const preview = document.getElementById("photo-preview");
  const photoInput = document.getElementById("report-photo");

  // A phone camera's picture is several megabytes; a village connection carries a fifth of
  // that comfortably. Large pictures are redrawn at 1920 pixels (the location comes from the
  // phone, not from the picture's metadata).
  async function smaller(file) {
    if (file.size <= 1500000 || !window.createImageBitmap) return file;
    try {
      const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
      const scale = Math.min(1, 1920 / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
      return blob && blob.size < file.size ? blob : file;
    } catch (_error) {
      return file;
    }
  }

  let photoReady = Promise.resolve();
  photoInput.addEventListener("change", () => {
    const file = photoInput.files && photoInput.files[0];
    photo = null;
    preview.classList.add("d-none");
    if (!file) return;
    photoName = file.name || "foto.jpg";
    photoReady = smaller(file).then((chosen) => {
      photo = chosen;
      const reader = new FileReader();
      reader.onload = () => {
        preview.src = reader.result;
        preview.classList.remove("d-none");
      };
      reader.readAsDataURL(chosen);
    });
  });

  form.querySelectorAll("input[name=severity]").forEach((input) => {
    input.addEventListener("change", () => { severityChosen = true; });
  });
  form.querySelectorAll("input[name=category]").forEach((input) => {
    input.addEventListener("change", () => {
      if (severityChosen) return;
      const fitting = document.getElementById(`severity-${input.dataset.severity}`);
      if (fitting) fitting.checked = true;
    });
  });

  // A guard at the warehouse gate need not find it among hundreds of TPS: the place chooser
  // is asked for the sites nearest the phone, and when no site is chosen yet, the one within
  // a kilometre is.
  async function nearestSite(latitude, longitude) {
    const box = document.getElementById("chooser-site");
    const results = document.getElementById("chooser-site-results");
    if (!box || !results) return null;
    const query = new URLSearchParams({
      purpose: box.dataset.purpose, mode: "radio", field: "site",
      lat: latitude.toFixed(6), lon: longitude.toFixed(6),
    });
    try {
      const response = await fetch(`${box.dataset.endpoint}?${query}`, { credentials: "same-origin" });
      if (!response.ok) return null;
      results.innerHTML = await response.text();
    } catch (error) {
      return null;
    }
    if (form.elements.site && form.elements.site.value) return null;
    const first = results.querySelector("input[name=site][data-km]");
    if (!first || Number(first.dataset.km) >= 1) return null;
    first.checked = true;
    return first;
  }

  function locate() {
    const where = document.getElementById("report-location");
    if (!navigator.geolocation) { where.textContent = text.msgLocationNone; return; }
    where.textContent = text.msgLocating;
    navigator.geolocation.getCurrentPosition(
      (position) => {
        const { latitude, longitude, accuracy } = position.coords;
        if (latitude < -11.5 || latitude > 6.5 || longitude < 94.5 || longitude > 141.5) {
          where.textContent = text.msgLocationOutside;
          return;
        }
        form.elements.latitude.value = latitude.toFixed(6);
        form.elements.longitude.value = longitude.toFixed(6);
        where.textContent = `${text.msgLocation} ${latitude.toFixed(5)}, ${longitude.toFixed(5)} (±${Math.round(accuracy)} m)`;
        nearestSite(latitude, longitude).then((nearest) => {
          if (nearest) {
            const name = nearest.closest("label").innerText.replace(/\s+/g, " ").trim();
            where.textContent += ` · ${text.msgNearest} ${name}`;
          }
        });
      },
      () => { where.textContent = text.msgLocationNone; },
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 },
    );
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // The chooser's search button: htmx has already searched while typing.
    if (event.submitter && event.submitter.name === "site_search") return;
    await photoReady; // a large picture may still be being made smaller
    const data = new FormData(form);
    const category = form.querySelector("input[name=category]:checked");
    const record = {
      id: String(data.get("id") || newId()),
      fields: {
        category: data.get("category"),
        severity: data.get("severity"),
        site: data.get("site"),
        latitude: data.get("latitude"),
        longitude: data.get("longitude"),
        description: String(data.get("description") || "").trim(),
        occurred_at: new Date().toISOString(),
      },
      photo,
      photoName,
      label: category ? category.labels[0].innerText.replace(/\s+/g, " ").trim() : "",
      createdAt: Date.now(),
      attempts: 0,
    };
    show(record, "saved");
    await keep(record);
    // Ready for the next report at once: a new id, the place and location kept.
    form.elements.id.value = newId();
    form.querySelectorAll("input[name=category], input[name=severity]").forEach((input) => {
      input.checked = false;
    });
    form.elements.description.value = "";
    photoInput.value = "";
    photo = null;
    preview.classList.add("d-none");
    severityChosen = false;
    window.scrollTo({ top: 0, behavior: "smooth" });
    send(record);
  });

  // The id the page came with may belong to a report already kept here: take a fresh one.
  form.elements.id.value = newId();
  window.addEventListener("online", sendAll);
  locate();
  sendAll();
})();
