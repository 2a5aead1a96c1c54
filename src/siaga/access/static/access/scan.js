// The badge scanner: where the browser has a BarcodeDetector (Chrome on Android does), the
// camera reads the badge's QR code and the form is sent by itself; elsewhere the guard types
// the code printed under the QR. No library: nothing to download at a warehouse.
(function () {
  "use strict";
  const form = document.getElementById("scan-form");
  const start = document.getElementById("camera-start");
  const video = document.getElementById("camera-video");
  const status = document.getElementById("camera-status");
  const input = document.getElementById("badge-input");
  if (!form || !start || !video || !input) return;
  const camera = navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  if (!("BarcodeDetector" in window) || !camera) {
    input.focus();
    return;
  }
  start.classList.remove("d-none");
  const PREFIX = "SIAGA-PASS:";
  let stream = null;

  function stop() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.classList.add("d-none");
  }

  async function look(detector) {
    if (!stream) return;
    try {
      const codes = await detector.detect(video);
      const values = codes.map((code) => code.rawValue || "");
      const ours = values.find((value) => value.startsWith(PREFIX));
      if (ours) {
        stop();
        input.value = ours;
        form.requestSubmit ? form.requestSubmit() : form.submit();
        return;
      }
      if (values.length) status.textContent = form.dataset.msgNotOurs;
    } catch (_error) {
      // A frame that could not be read: try the next one.
    }
    window.setTimeout(() => look(detector), 250);
  }

  start.addEventListener("click", async () => {
    if (stream) return;
    let detector;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (!formats.includes("qr_code")) throw new Error("no QR");
      detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment" },
        audio: false,
      });
    } catch (_error) {
      stop();
      status.textContent = form.dataset.msgNoCamera;
      start.classList.add("d-none");
      input.focus();
      return;
    }
    video.srcObject = stream;
    video.classList.remove("d-none");
    await video.play().catch(() => {});
    status.textContent = form.dataset.msgPoint;
    look(detector);
  });
  window.addEventListener("pagehide", stop);
})();
