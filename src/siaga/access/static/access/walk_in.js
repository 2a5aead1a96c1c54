// The walk-in form: the NIK counts its digits, the visitor's photo is shown before it is sent
// and, when the phone's camera made it large, redrawn smaller (a village connection is slow);
// the button is pressed once. Without JavaScript the form posts just the same.
(function () {
  "use strict";
  const form = document.getElementById("walk-in-form");
  if (!form) return;

  // The NIK is never cut or rewritten here: a 17th digit is a typo the guard must see, and the
  // server refuses it (nik_length). The count turns red past 16 or on anything not a digit.
  const nik = document.getElementById("walk-in-nik");
  if (nik) {
    const help = nik.parentElement.querySelector(".form-text");
    const original = help ? help.textContent : "";
    nik.addEventListener("input", () => {
      const typed = nik.value.trim();
      const digits = typed.replace(/\D/g, "").length;
      const wrong = typed.length > 16 || digits !== typed.length;
      nik.classList.toggle("is-invalid", wrong);
      if (help) {
        help.textContent = typed.length
          ? form.dataset.msgDigits.replace("%(n)s", String(typed.length))
          : original;
        help.classList.toggle("text-danger", wrong);
      }
    });
  }

  // "Known here as …": the guard takes the record's name and organisation with one tap; an
  // empty name is filled in from it. Anything else typed stays until the guard decides.
  const name = document.getElementById("walk-in-name");
  const organisation = document.getElementById("walk-in-organisation");
  form.addEventListener("click", (event) => {
    const use = event.target.closest("#known-use");
    if (!use) return;
    if (name) name.value = use.dataset.name || "";
    if (organisation) organisation.value = use.dataset.organisation || "";
    const confirm = document.getElementById("walk-in-confirm-correction");
    if (confirm) confirm.checked = false;
  });
  document.body.addEventListener("htmx:afterSwap", () => {
    const use = document.getElementById("known-use");
    if (!use || !name || name.value.trim()) return;
    name.value = use.dataset.name || "";
    if (organisation && !organisation.value.trim()) {
      organisation.value = use.dataset.organisation || "";
    }
  });

  const photo = document.getElementById("walk-in-photo");
  const preview = document.getElementById("walk-in-photo-preview");

  async function smaller(file) {
    if (file.size <= 1000000 || !window.createImageBitmap || !window.DataTransfer) return file;
    try {
      const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
      const scale = Math.min(1, 1280 / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
      if (!blob || blob.size >= file.size) return file;
      return new File([blob], "visitor.jpg", { type: "image/jpeg" });
    } catch (_error) {
      return file;
    }
  }

  let ready = Promise.resolve();
  if (photo && preview) {
    photo.addEventListener("change", () => {
      const file = photo.files && photo.files[0];
      preview.classList.add("d-none");
      if (!file) return;
      ready = smaller(file).then((chosen) => {
        if (chosen !== file) {
          const swap = new DataTransfer();
          swap.items.add(chosen);
          photo.files = swap.files;
        }
        // A data: address, as the page's content policy allows no blob: images.
        const reader = new FileReader();
        reader.onload = () => {
          preview.src = reader.result;
          preview.classList.remove("d-none");
        };
        reader.readAsDataURL(chosen);
      });
    });
  }

  const submit = document.getElementById("walk-in-submit");
  let sending = false;
  form.addEventListener("submit", (event) => {
    if (sending) {
      event.preventDefault();
      return;
    }
    event.preventDefault();
    sending = true;
    if (submit) submit.disabled = true;
    // The photo may still be being redrawn; send once it is.
    ready.finally(() => form.submit());
  });
  // Back to this page from the next one: the button works again.
  window.addEventListener("pageshow", () => {
    sending = false;
    if (submit) submit.disabled = false;
  });
})();
