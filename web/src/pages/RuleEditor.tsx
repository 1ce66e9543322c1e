// The rule editor: CodeMirror with YAML highlighting, a local YAML syntax
// check on every keystroke (the `yaml` package) and the server's Sigma
// validation (/rules/validate) once typing pauses.
import { useEffect, useRef, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { ArrowLeft, CheckCircle2, Save, XCircle } from "lucide-react";
import { EditorView, basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { yaml as yamlLang } from "@codemirror/lang-yaml";
import { linter, lintGutter, type Diagnostic } from "@codemirror/lint";
import { parseAllDocuments } from "yaml";
import { oneDark } from "@codemirror/theme-one-dark";
import { api, type Req, type Res, type ValidateResult } from "../api";
import { useAuth } from "../auth";
import { ErrorBox, LevelBadge, Loading, Toast } from "../components/common";
import { useFormat } from "../i18n";
import { RuleExceptions } from "../components/AlertPivots";

const TEMPLATE = `title: 可疑的 PowerShell 编码命令
id: 00000000-0000-4000-8000-000000000000
status: experimental
description: PowerShell started with an encoded command
author: 
date: 2026-01-01
tags:
  - attack.execution
  - attack.t1059.001
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    Image|endswith: '\\powershell.exe'
    CommandLine|contains: ' -enc'
  condition: selection
level: high
`;

function newId() {
  return crypto.randomUUID?.() ?? "00000000-0000-4000-8000-000000000000";
}

function localDiagnostics(text: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const doc of parseAllDocuments(text, { prettyErrors: false })) {
    if (!("errors" in doc)) continue;
    for (const e of [...doc.errors, ...doc.warnings]) {
      const from = Math.min(e.pos[0], text.length);
      const to = Math.min(Math.max(e.pos[1], from + 1), text.length);
      out.push({ from, to, severity: doc.errors.includes(e) ? "error" : "warning", message: e.message.split("\n")[0], source: "YAML" });
    }
  }
  return out;
}

function lineRange(text: string, line: number | null, column: number | null) {
  const lines = text.split("\n");
  if (!line || line < 1 || line > lines.length) return { from: 0, to: Math.min(text.length, lines[0]?.length ?? 0) || 0 };
  let from = 0;
  for (let i = 0; i < line - 1; i++) from += lines[i].length + 1;
  const col = column && column > 0 ? Math.min(column - 1, lines[line - 1].length) : 0;
  return { from: from + col, to: from + Math.max(col + 1, lines[line - 1].length) };
}

export default function RuleEditor() {
  const { id } = useParams();
  const { t } = useTranslation();
  const f = useFormat();
  const nav = useNavigate();
  const qc = useQueryClient();
  const { can } = useAuth();
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const [doc, setDoc] = useState<string | null>(null);
  const [result, setResult] = useState<ValidateResult | null>(null);
  const [validating, setValidating] = useState(false);
  const [toast, setToast] = useState<{ text: string; kind: "ok" | "err" } | null>(null);
  const serverResult = useRef<ValidateResult | null>(null);

  const rule = useQuery({
    queryKey: ["rules", "one", id],
    queryFn: () => api<Res<"/rules/{id}">>(`/rules/${encodeURIComponent(id!)}`),
    enabled: !!id,
  });
  const readOnly = !can("rules:write") || (rule.data != null && rule.data.origin !== "uploaded");
  // One template (with its fresh id) per editor, not one per render.
  const [template] = useState(() => TEMPLATE.replace("00000000-0000-4000-8000-000000000000", newId()));
  const initial = id ? rule.data?.yaml ?? null : template;

  useEffect(() => {
    if (!host.current || initial == null || view.current) return;
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: initial,
        extensions: [
          basicSetup,
          yamlLang(),
          oneDark,
          lintGutter(),
          linter(
            (ev) => {
              const text = ev.state.doc.toString();
              const local = localDiagnostics(text);
              if (local.length) return local;
              const r = serverResult.current;
              if (!r || r.ok) return [];
              return r.errors.map((e) => ({ ...lineRange(text, e.line ?? null, e.column ?? null), severity: "error" as const, message: e.message, source: "Sigma" }));
            },
            { delay: 150 },
          ),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) setDoc(u.state.doc.toString());
          }),
          EditorState.readOnly.of(readOnly),
          keymap.of([]),
          EditorView.theme({ "&": { height: "100%" } }, { dark: true }),
        ],
      }),
    });
    view.current = v;
    setDoc(initial);
    return () => {
      v.destroy();
      view.current = null;
    };
  }, [initial, readOnly]);

  // Server-side Sigma validation once typing pauses.
  useEffect(() => {
    if (doc == null) return;
    const ctl = new AbortController();
    const h = setTimeout(async () => {
      if (localDiagnostics(doc).some((d) => d.severity === "error")) {
        setResult({ ok: false, errors: [{ path: "<upload>", document: 1, kind: "yaml", line: null, column: null, message: t("rules.yamlSyntax") }], rule: null, rules: 0 });
        return;
      }
      setValidating(true);
      try {
        const r = await api<ValidateResult>("/rules/validate", { raw: doc, signal: ctl.signal });
        serverResult.current = r;
        setResult(r);
        // Re-run the linter so the server's findings show in the gutter.
        view.current?.dispatch({});
      } catch (e) {
        if (!ctl.signal.aborted) setResult({ ok: false, errors: [{ path: "<upload>", document: 1, kind: "request", line: null, column: null, message: String((e as Error).message) }], rule: null, rules: 0 });
      } finally {
        if (!ctl.signal.aborted) setValidating(false);
      }
    }, 400);
    return () => {
      clearTimeout(h);
      ctl.abort();
    };
  }, [doc, t]);

  const save = useMutation({
    mutationFn: () => {
      const name = rule.data?.path ? rule.data.path.split(/[\\/]/).pop()! : `${result?.rule?.id ?? newId()}.yml`;
      return api<Res<"/rules", "post">>("/rules", { body: { files: [{ name, content: doc ?? "" }] } satisfies Req<"/rules"> });
    },
    onSuccess: (r) => {
      void qc.invalidateQueries({ queryKey: ["rules"] });
      if (r.rejected.length) setToast({ text: t("rules.rejected", { count: r.rejected.length }), kind: "err" });
      else {
        setToast({ text: t("rules.loaded", { count: r.loaded.length }), kind: "ok" });
        if (!id && result?.rule?.id) nav(`/rules/${encodeURIComponent(result.rule.id)}`, { replace: true });
      }
    },
    onError: (e) => setToast({ text: (e as Error).message, kind: "err" }),
  });

  if (id && rule.isLoading) return <Loading />;
  if (id && rule.error) return <ErrorBox error={rule.error} />;
  const r = rule.data;

  return (
    <div className="editor-page">
      <Link to="/rules" className="back"><ArrowLeft size={14} aria-hidden /> {t("rules.title")}</Link>
      <div className="page-head">
        <h1>{r ? r.title : t("rules.newRule")}</h1>
        {r && <LevelBadge level={r.level} />}
        <div className="grow" />
        <span className="validation" data-testid="validation" aria-live="polite">
          {validating ? <span className="muted">{t("rules.validating")}</span> : result?.ok ? (
            <span className="ok"><CheckCircle2 size={16} aria-hidden /> {t("rules.valid", { title: result.rule?.title ?? "" })}</span>
          ) : result ? (
            <span className="err"><XCircle size={16} aria-hidden /> {t("rules.invalid", { count: result.errors.length })}</span>
          ) : null}
        </span>
        {!readOnly && (
          <button className="btn btn-primary" disabled={!result?.ok || save.isPending} onClick={() => save.mutate()}>
            <Save size={16} aria-hidden /> {t("rules.saveRule")}
          </button>
        )}
      </div>
      {r && (
        <div className="muted small mono">
          {r.id} · {r.path} · {t("rules.hits")} {f.num(r.health.hits)} · {t("rules.errors")} {f.num(r.health.errors)} · {r.enabled ? t("rules.enabled") : t("rules.disabled")}
        </div>
      )}
      <div className="editor-wrap">
        <div className="editor" ref={host} aria-label={t("rules.editor")} />
        {result && !result.ok && (
          <ul className="problems" role="list">
            {result.errors.map((e, i) => (
              <li key={i}>{e.line ? <span className="mono muted">{e.line}:{e.column ?? 1} </span> : null}{e.message}</li>
            ))}
          </ul>
        )}
      </div>
      {r && <RuleExceptions ruleId={r.id} />}
      {toast && <Toast text={toast.text} kind={toast.kind} onDone={() => setToast(null)} />}
    </div>
  );
}
