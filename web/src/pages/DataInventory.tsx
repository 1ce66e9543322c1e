// 数据资产目录 (data inventory) for `data:read`: where personal information
// was seen in what Taishi received — per organisation × listener × field, the
// kinds found, partial masks only (the server never keeps a raw value), the
// distinct people (exact, then a HyperLogLog estimate with its error), and
// the GB/T 35273 category and GB/T 43697 level. CSV export for the register.
import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { Download } from "lucide-react";
import { api, type Res } from "../api";
import { Empty, ErrorBox, Loading, Panel } from "../components/common";
import { useFormat } from "../i18n";

type Answer = Res<"/data/inventory">;
type Location = Answer["locations"][number];

/** Levels from most to least protected, for sorting. */
const LEVEL_RANK: Record<string, number> = { core: 0, important: 1, "general-4": 2, "general-3": 3, "general-2": 4, "general-1": 5 };

export default function DataInventory() {
  const { t, i18n } = useTranslation();
  const f = useFormat();
  const zh = i18n.language.startsWith("zh");
  const [text, setText] = useState("");
  const q = useQuery({ queryKey: ["data", "inventory"], queryFn: () => api<Answer>("/data/inventory") });

  const rows = useMemo(() => {
    const needle = text.trim().toLowerCase();
    const all = q.data?.locations ?? [];
    return all
      .filter((l) => !needle || [l.org, l.listener, l.field, ...l.hosts, ...l.assets.map((a) => a.name), ...l.kinds.map((k) => `${k.kind} ${k.label_zh} ${k.label_en}`)].join(" ").toLowerCase().includes(needle))
      .sort((a, b) => (LEVEL_RANK[a.level ?? ""] ?? 9) - (LEVEL_RANK[b.level ?? ""] ?? 9) || b.people - a.people || b.findings - a.findings);
  }, [q.data, text]);

  if (q.isLoading) return <Loading />;
  if (q.error) return <ErrorBox error={q.error} onRetry={() => q.refetch()} />;
  const data = q.data!;
  const people = (l: Location) =>
    l.people_exact ? f.num(l.people) : `≈ ${f.num(l.people)} (±${(l.people_rel_std_error * 100).toFixed(1)}%)`;
  const csv = `/api/v1/data/inventory?format=csv&lang=${zh ? "zh-CN" : "en"}`;

  return (
    <div className="data-inventory" data-testid="data-inventory">
      <div className="page-head">
        <h1>{t("data.title")}</h1>
        <div className="grow" />
        <a className="btn" href={csv} download data-testid="inventory-csv"><Download size={16} aria-hidden /> {t("data.exportCsv")}</a>
      </div>
      <p className="muted small">{t("data.intro")}</p>
      <Panel title={t("data.locations")} actions={
        <input type="search" style={{ minWidth: 300 }} placeholder={t("data.filter")} aria-label={t("data.filter")} value={text} onChange={(e) => setText(e.target.value)} />
      }>
        {!rows.length ? <Empty text={t("data.empty")} /> : (
          <table className="table" data-testid="inventory-table">
            <thead>
              <tr>
                <th>{t("data.org")}</th><th>{t("data.listener")}</th><th>{t("data.field")}</th><th>{t("data.kinds")}</th>
                <th className="num">{t("data.findings")}</th><th className="num">{t("data.people")}</th>
                <th>{t("data.category")}</th><th>{t("data.level")}</th><th>{t("data.hosts")}</th><th>{t("data.asset")}</th><th>{t("data.lastSeen")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((l) => (
                <tr key={`${l.org}/${l.listener}/${l.field}`}>
                  <td className="mono">{l.org}</td>
                  <td className="mono">{l.listener}</td>
                  <td className="mono">{l.field}</td>
                  <td>
                    {l.kinds.map((k) => (
                      <div key={k.kind} className="small" title={k.examples.join("  ")}>
                        {zh ? k.label_zh : k.label_en} <span className="muted">× {f.num(k.count)}</span>
                        {k.sensitive && <span className="tag">{t("data.sensitive")}</span>}
                        {k.examples[0] && <span className="muted mono"> {k.examples[0]}</span>}
                      </div>
                    ))}
                  </td>
                  <td className="num mono">{f.num(l.findings)}</td>
                  <td className="num mono" data-testid="inventory-people">{people(l)}</td>
                  <td>{(zh ? l.category_zh : l.category_en) ?? "—"}</td>
                  <td><span className={`tag level-${l.level ?? "none"}`}>{(zh ? l.level_zh : l.level_en) ?? "—"}</span></td>
                  <td className="mono small">{l.hosts.join(", ") || "—"}</td>
                  <td className="small" data-testid="inventory-assets">
                    {l.assets.length === 0 ? "—" : l.assets.map((a, i) => (
                      <span key={`${a.host}-${a.id}`}>{i > 0 && ", "}<Link to={`/risk/assets/${a.id}`}>#{a.id} {a.name}</Link></span>
                    ))}
                  </td>
                  <td className="small">{f.date(l.last_seen)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {data.dropped_locations > 0 && <div className="muted small pad">{t("data.dropped", { count: data.dropped_locations })}</div>}
      </Panel>
    </div>
  );
}
