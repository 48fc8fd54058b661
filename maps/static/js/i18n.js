/* Texts in the page's language, the one mechanism for every page script (ES module): Chinese by default, English.
 *
 * translator(tables, lang) → t(key, ...args): tables is {zh: {key: text or (…args) → text}, en: {…}}; a missing
 * language falls back to zh, a missing key to the key itself. t.lang is the language in use and may be changed
 * (setLang). localised({zh, en}, lang) picks a bilingual value, as the server's definitions hold them. */

export const LANGS = ['zh', 'en'];
export const DEFAULT_LANG = 'zh';

/** 'en' for English, else the default 'zh'. */
export function pickLang(lang) {
  return lang === 'en' ? 'en' : DEFAULT_LANG;
}

/** A bilingual value ({zh, en}) in lang, falling back to the other language; plain values as strings. */
export function localised(v, lang) {
  if (v == null) return '';
  if (typeof v === 'object') return (pickLang(lang) === 'en' ? v.en || v.zh : v.zh || v.en) || '';
  return String(v);
}

/** The BCP 47 locale of a language, for toLocaleString and <html lang>. */
export function locale(lang) {
  return pickLang(lang) === 'en' ? 'en-GB' : 'zh-CN';
}

export function translator(tables, lang) {
  const t = (key, ...args) => {
    const v = (tables[t.lang] || tables[DEFAULT_LANG] || {})[key];
    return typeof v === 'function' ? v(...args) : (v === undefined ? key : v);
  };
  t.lang = pickLang(lang);
  t.setLang = (l) => { t.lang = pickLang(l); };
  return t;
}
