import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Clock } from "lucide-react";

export const RANGES = ["now-15m", "now-1h", "now-24h", "now-7d", "now-30d", "now-365d", "now-3650d"] as const;

export interface Range {
  from: string;
  to: string;
}

function toLocalInput(v: string): string {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return "";
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fromLocalInput(v: string): string {
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

/** Relative ranges (the API's now-… forms) or an absolute from/to. */
export function TimePicker({ value, onChange }: { value: Range; onChange: (r: Range) => void }) {
  const { t } = useTranslation();
  const relative = value.to === "now" && (RANGES as readonly string[]).includes(value.from);
  const [custom, setCustom] = useState(!relative);
  const [from, setFrom] = useState(relative ? "" : toLocalInput(value.from));
  const [to, setTo] = useState(relative ? "" : toLocalInput(value.to));
  return (
    <div className="timepicker" role="group" aria-label={t("time.range")}>
      <Clock size={16} aria-hidden className="muted" />
      <select
        aria-label={t("time.range")}
        data-testid="time-range"
        value={custom ? "custom" : value.from}
        onChange={(e) => {
          if (e.target.value === "custom") {
            setCustom(true);
            return;
          }
          setCustom(false);
          onChange({ from: e.target.value, to: "now" });
        }}
      >
        {RANGES.map((r) => (
          <option key={r} value={r}>{t(`time.${r}`)}</option>
        ))}
        <option value="custom">{t("time.custom")}</option>
      </select>
      {custom && (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            const f = fromLocalInput(from), tt = fromLocalInput(to);
            if (f && tt) onChange({ from: f, to: tt });
          }}
        >
          <input type="datetime-local" aria-label={t("time.from")} value={from} onChange={(e) => setFrom(e.target.value)} />
          <span className="muted">→</span>
          <input type="datetime-local" aria-label={t("time.to")} value={to} onChange={(e) => setTo(e.target.value)} />
          <button className="btn btn-sm" type="submit">{t("time.apply")}</button>
        </form>
      )}
    </div>
  );
}
