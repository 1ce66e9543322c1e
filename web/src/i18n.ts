import i18n from "i18next";
import { initReactI18next, useTranslation } from "react-i18next";
import { useMemo } from "react";
import zh from "./locales/zh-CN";
import en from "./locales/en";

export const LANGS = ["zh-CN", "en"] as const;
export type Lang = (typeof LANGS)[number];
const KEY = "taishi.lang";

function initial(): Lang {
  const saved = localStorage.getItem(KEY);
  if (saved === "en" || saved === "zh-CN") return saved;
  // Simplified Chinese first: English only when asked for.
  return "zh-CN";
}

i18n.use(initReactI18next).init({
  resources: { "zh-CN": { translation: zh }, en: { translation: en } },
  lng: initial(),
  fallbackLng: "zh-CN",
  interpolation: { escapeValue: false },
  returnNull: false,
  showSupportNotice: false,
});
document.documentElement.lang = i18n.language;

export function setLang(l: Lang) {
  localStorage.setItem(KEY, l);
  document.documentElement.lang = l;
  void i18n.changeLanguage(l);
}

/** Intl formatters for the current language (dates in the browser's zone). */
export function useFormat() {
  const { i18n: inst } = useTranslation();
  const lang = inst.language as Lang;
  return useMemo(() => makeFormat(lang), [lang]);
}

export function makeFormat(lang: Lang) {
  const num = new Intl.NumberFormat(lang);
  const compact = new Intl.NumberFormat(lang, { notation: "compact", maximumFractionDigits: 1 });
  const dec = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
  const rel = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  const bytesUnits = ["B", "KiB", "MiB", "GiB", "TiB"];
  const toDate = (v: string | number | Date | null | undefined) => (v == null || v === "" ? null : new Date(v));
  return {
    lang,
    num: (n: number | null | undefined) => (n == null || Number.isNaN(n) ? "—" : num.format(n)),
    compact: (n: number | null | undefined) => (n == null ? "—" : compact.format(n)),
    dec: (n: number | null | undefined) => (n == null ? "—" : dec.format(n)),
    /** A date and time for people, the same in every language: ISO 8601
     * order in the browser's zone with the zone written out
     * (`2026-12-06 08:25:19 +08:00`), never `12/06/2026`. */
    date: (v: string | number | Date | null | undefined) => {
      const d = toDate(v);
      return d && !Number.isNaN(d.getTime()) ? isoLocal(d).replace("T", " ").replace(/([+-]\d\d:\d\d)$/, " $1") : "—";
    },
    /** ISO 8601 in the browser's zone with its offset written out
     * (`2026-12-06T19:46:55+08:00`): no reader guesses the zone. */
    iso: (v: string | number | Date | null | undefined) => {
      const d = toDate(v);
      return d && !Number.isNaN(d.getTime()) ? isoLocal(d) : "—";
    },
    day: (v: string | number | Date | null | undefined) => {
      const d = toDate(v);
      return d && !Number.isNaN(d.getTime()) ? isoLocal(d).slice(0, 10) : "—";
    },
    /** Month, day and minute (`12-06 08:25`) for chart axes. */
    short: (v: string | number | Date | null | undefined) => {
      const d = toDate(v);
      return d && !Number.isNaN(d.getTime()) ? isoLocal(d).slice(5, 16).replace("T", " ") : "—";
    },
    ago: (v: string | number | Date | null | undefined) => {
      const d = toDate(v);
      if (!d || Number.isNaN(d.getTime())) return "—";
      const s = (d.getTime() - Date.now()) / 1000;
      const a = Math.abs(s);
      if (a < 60) return rel.format(Math.round(s), "second");
      if (a < 3600) return rel.format(Math.round(s / 60), "minute");
      if (a < 86400) return rel.format(Math.round(s / 3600), "hour");
      return rel.format(Math.round(s / 86400), "day");
    },
    bytes: (n: number | null | undefined) => {
      if (n == null) return "—";
      let i = 0;
      let v = n;
      while (v >= 1024 && i < bytesUnits.length - 1) {
        v /= 1024;
        i++;
      }
      return `${dec.format(v)} ${bytesUnits[i]}`;
    },
    duration: (s: number) => {
      const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
      const unit = (v: number, u: "day" | "hour" | "minute") => new Intl.NumberFormat(lang, { style: "unit", unit: u, unitDisplay: "short" }).format(v);
      return [d ? unit(d, "day") : "", h ? unit(h, "hour") : "", unit(m, "minute")].filter(Boolean).join(" ");
    },
  };
}
export type Fmt = ReturnType<typeof makeFormat>;

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, "0");
function isoLocal(d: Date): string {
  // getTimezoneOffset is minutes *behind* UTC: Asia/Shanghai gives -480.
  const off = -d.getTimezoneOffset();
  const zone = `${off < 0 ? "-" : "+"}${pad(Math.trunc(off / 60))}:${pad(off % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${zone}`;
}

export default i18n;
