/* gridpatrol field app — screen helpers shared by the screens: the bottom sheet (a dialog with a note, photos and
 * an optional extra part), the toast, and the in-browser downscaling of camera photos. */

import { $, S } from './state.js';
import { localIso } from './store.js';
import { readCapture, remember } from './exif.js';

let toastTimer = null;
/** Show a short message at the bottom for 2.5 s. */
export function toast(text) {
  const el = $('toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 2500);
}

/** Open the sheet: opts {title, text, note, noteRequired, notePlaceholder, photos, extra: {render(el), collect()}};
 * resolves with {note, photos: [Blob], extra} on OK, null on cancel. */
export function sheet(opts) {
  const dlg = $('sheet');
  $('sheet-title').textContent = opts.title;
  $('sheet-text').textContent = opts.text || '';
  $('sheet-note-label').hidden = !opts.note;
  $('sheet-note').value = '';
  $('sheet-note').placeholder = opts.notePlaceholder || '';
  $('sheet-photo-label').hidden = !opts.photos;
  $('sheet-error').textContent = '';
  $('sheet-extra').innerHTML = '';
  $('sheet-extra').hidden = !opts.extra;
  if (opts.extra) opts.extra.render($('sheet-extra'));
  const photos = [];
  $('sheet-thumbs').innerHTML = '';
  return new Promise((resolve) => {
    const input = $('sheet-photo');
    input.value = '';
    input.onchange = async () => {
      for (const f of input.files) {
        const blob = await downscale(f);
        photos.push(blob);
        $('sheet-thumbs').insertAdjacentHTML('beforeend', `<img alt="" src="${URL.createObjectURL(blob)}">`);
      }
      input.value = '';
    };
    const finish = (v) => { dlg.close(); $('sheet-form').onsubmit = null; $('sheet-cancel').onclick = null; resolve(v); };
    $('sheet-cancel').onclick = () => finish(null);
    $('sheet-form').onsubmit = (ev) => {
      ev.preventDefault();
      const note = $('sheet-note').value.trim();
      if (opts.noteRequired && !note) { $('sheet-error').textContent = opts.notePlaceholder; return; }
      let extra = null;
      if (opts.extra) {
        const r = opts.extra.collect();
        if (r.error) { $('sheet-error').textContent = r.error; return; }
        extra = r.value;
      }
      finish({ note, photos, extra });
    };
    dlg.showModal();
  });
}

/** Downscale a camera photo in the browser (longest side ≤ 1600 px, JPEG 0.82) before it is queued; when and where
 * it was taken (its EXIF, read first, or the phone's time and position now) is remembered for the blob (exif.js). */
export async function downscale(file, max = 1600, quality = 0.82) {
  const exif = await readCapture(file, localIso);
  const capture = {
    taken_at: (exif && exif.taken_at) || localIso(),
    source: exif && exif.taken_at ? 'exif' : 'device',
    lon: exif && exif.lon != null ? exif.lon : S.pos ? S.pos.lon : null,
    lat: exif && exif.lat != null ? exif.lat : S.pos ? S.pos.lat : null,
  };
  let src;
  try {
    src = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch (_) {
    src = await new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = reject;
      img.src = URL.createObjectURL(file);
    });
  }
  const w = src.width, h = src.height, k = Math.min(1, max / Math.max(w, h));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(w * k);
  canvas.height = Math.round(h * k);
  canvas.getContext('2d').drawImage(src, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => canvas.toBlob((blob) => resolve(remember(blob, capture)), 'image/jpeg', quality));
}

