import { useSearchParams } from "react-router";
import { useTranslation } from "react-i18next";

export type AlertTime = "detected" | "event";

/** Which of an alert's two times a view selects and sorts by: when Taishi
 * raised it (the default, so an alert raised now about an old log is news)
 * or when its event happened. Kept in the address (`?time=event`). */
export function useAlertTime(): [AlertTime, (t: AlertTime) => void] {
  const [params, setParams] = useSearchParams();
  const time: AlertTime = params.get("time") === "event" ? "event" : "detected";
  const set = (t: AlertTime) =>
    setParams((p) => {
      const n = new URLSearchParams(p);
      if (t === "event") n.set("time", "event");
      else n.delete("time");
      n.delete("offset");
      return n;
    });
  return [time, set];
}

export function TimeBasis() {
  const { t } = useTranslation();
  const [time, setTime] = useAlertTime();
  return (
    <label className="field-inline" title={t("timeBasis.hint")}>
      <select data-testid="time-basis" aria-label={t("timeBasis.label")} value={time} onChange={(e) => setTime(e.target.value as AlertTime)}>
        <option value="detected">{t("timeBasis.detected")}</option>
        <option value="event">{t("timeBasis.event")}</option>
      </select>
    </label>
  );
}
