// Checks an RFC 9162 inclusion proof in the browser: SHA-256(0x00 ‖ canonical bytes) is the
// leaf; the proof leads from it to the signed root. Nothing is trusted from the server but the
// bytes it shows, which is the point: the check is the reader's own.
(function () {
  "use strict";
  const box = document.getElementById("proof");
  const badge = document.getElementById("browser-check");
  if (!box || !badge) return;

  const fromB64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

  async function verify() {
    let leaf = fromB64(box.dataset.leaf);
    // A scrubbed payload no longer gives the leaf: the proof is walked from the leaf kept.
    if (box.dataset.scrubbed !== "true") {
      const canonical = new TextEncoder().encode(document.getElementById("canonical").textContent);
      const computed = await sha256(concat(new Uint8Array([0]), canonical));
      if (!same(computed, leaf)) return false;
      leaf = computed;
    }
    const proof = JSON.parse(box.dataset.proof).map(fromB64);
    let fn = Number(box.dataset.seq);
    let sn = Number(box.dataset.size) - 1;
    let value = leaf;
    for (const sibling of proof) {
      if (sn === 0) return false;
      if ((fn & 1) === 1 || fn === sn) {
        value = await sha256(concat(new Uint8Array([1]), sibling, value));
        while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
      } else {
        value = await sha256(concat(new Uint8Array([1]), value, sibling));
      }
      fn >>= 1; sn >>= 1;
    }
    return sn === 0 && same(value, fromB64(box.dataset.root));
  }

  if (!window.crypto || !crypto.subtle) {
    badge.textContent = badge.dataset.na;
    return;
  }
  verify().then((ok) => {
    badge.textContent = ok ? badge.dataset.ok : badge.dataset.bad;
    badge.className = "badge " + (ok ? "text-bg-success" : "text-bg-danger");
    badge.dataset.result = ok ? "ok" : "bad";
  });
})();
