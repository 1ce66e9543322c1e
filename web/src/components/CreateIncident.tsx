// "Create incident" from alerts (issue 14): on the alert page for one alert,
// in the alert list for the selected ones. Opens the new incident.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "react-router";
import { useTranslation } from "react-i18next";
import { Siren } from "lucide-react";
import { api, type Req, type Res } from "../api";
import { useAuth } from "../auth";
import { ErrorBox } from "./common";

export function CreateIncident({ alerts, label, small }: { alerts: string[]; label: string; small?: boolean }) {
  const { t } = useTranslation();
  const nav = useNavigate();
  const qc = useQueryClient();
  const { can } = useAuth();
  const m = useMutation({
    mutationFn: () => api<Res<"/incidents", "post">>("/incidents", { method: "POST", body: { alerts } satisfies Req<"/incidents"> }),
    onSuccess: (v) => {
      void qc.invalidateQueries({ queryKey: ["incidents"] });
      void nav(`/incidents/${encodeURIComponent(v.incident.id)}`);
    },
  });
  if (!can("incidents:write") || !alerts.length) return null;
  return (
    <>
      <button className={small ? "btn btn-sm" : "btn"} data-testid="create-incident" disabled={m.isPending} onClick={() => m.mutate()} title={t("incidents.create")}>
        <Siren size={small ? 14 : 16} aria-hidden /> {label}
      </button>
      {m.error && <ErrorBox error={m.error} />}
    </>
  );
}
