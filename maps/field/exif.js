/* gridpatrol field app — when and where a photo was taken, read before the browser's downscale drops it.
 *
 * A small reader of a JPEG's EXIF (APP1): DateTimeOriginal (+ OffsetTimeOriginal) and the GPS position. The canvas
 * that downscales a camera photo (ui.js downscale) keeps only pixels, so the capture is read from the file first and
 * remembered for the downscaled blob (captureOf), which the outbox sends as form fields with the photo. A photo
 * without EXIF (a screenshot, a camera app that strips it) is stamped with the phone's time and position at capture,
 * with source 'device'.
 */

const captures = new WeakMap();

/** Remember the capture ({taken_at, lon, lat, source}) of a blob; captureOf(blob) gives it back (or null). */
export function remember(blob, capture) { if (blob && capture) captures.set(blob, capture); return blob; }
export function captureOf(blob) { return (blob && captures.get(blob)) || null; }

function ascii(view, off, n) {
  let s = '';
  for (let i = 0; i < n && off + i < view.byteLength; i++) {
    const c = view.getUint8(off + i);
    if (!c) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** The entries of the IFD at `off` (relative to the TIFF header at `tiff`): tag → {type, count, valueOff}. */
function ifd(view, tiff, off, le) {
  const out = new Map();
  if (tiff + off + 2 > view.byteLength) return out;
  const n = view.getUint16(tiff + off, le);
  for (let i = 0; i < n; i++) {
    const e = tiff + off + 2 + i * 12;
    if (e + 12 > view.byteLength) break;
    const type = view.getUint16(e + 2, le), count = view.getUint32(e + 4, le);
    const size = ({ 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8 }[type] || 1) * count;
    out.set(view.getUint16(e, le), { type, count, at: size <= 4 ? e + 8 : tiff + view.getUint32(e + 8, le) });
  }
  return out;
}

function text(view, entry) { return entry ? ascii(view, entry.at, entry.count) : ''; }

function degrees(view, entry, ref, le) {
  if (!entry || entry.type !== 5 || entry.count < 3 || !ref) return null;
  let v = 0;
  for (let i = 0; i < 3; i++) {
    const num = view.getUint32(entry.at + 8 * i, le), den = view.getUint32(entry.at + 8 * i + 4, le);
    if (!den) return null;
    v += num / den / 60 ** i;
  }
  return ref === 'S' || ref === 'W' ? -v : v;
}

/** {taken_at (ISO with offset), lon, lat, source: 'exif'} from a JPEG file's EXIF, or null when it has none. */
export async function readCapture(file, localIso) {
  try {
    const view = new DataView(await file.slice(0, 256 * 1024).arrayBuffer());
    if (view.getUint16(0) !== 0xffd8) return null;
    let off = 2;
    while (off + 4 < view.byteLength) {
      const marker = view.getUint16(off), len = view.getUint16(off + 2);
      if (marker === 0xffe1 && ascii(view, off + 4, 4) === 'Exif') return parse(view, off + 10, localIso);
      if ((marker & 0xff00) !== 0xff00 || marker === 0xffda) return null;
      off += 2 + len;
    }
  } catch (_) { /* not readable: no capture */ }
  return null;
}

function parse(view, tiff, localIso) {
  const le = view.getUint16(tiff) === 0x4949;
  const ifd0 = ifd(view, tiff, view.getUint32(tiff + 4, le), le);
  const exifPtr = ifd0.get(0x8769), gpsPtr = ifd0.get(0x8825);
  const exif = exifPtr ? ifd(view, tiff, view.getUint32(exifPtr.at, le), le) : new Map();
  const gps = gpsPtr ? ifd(view, tiff, view.getUint32(gpsPtr.at, le), le) : new Map();
  const m = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})/.exec(text(view, exif.get(0x9003)));
  let taken = null;
  if (m) {
    const offset = /^[+-]\d{2}:\d{2}$/.exec(text(view, exif.get(0x9011)));
    taken = offset ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${offset[0]}`
      : localIso(new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));   // the camera's local time
  }
  const lat = degrees(view, gps.get(2), text(view, gps.get(1)), le);
  const lon = degrees(view, gps.get(4), text(view, gps.get(3)), le);
  const fix = lat != null && lon != null && (lat || lon);
  if (!taken && !fix) return null;
  return { taken_at: taken, lon: fix ? lon : null, lat: fix ? lat : null, source: 'exif' };
}
