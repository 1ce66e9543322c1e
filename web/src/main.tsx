import { StrictMode, Suspense, lazy, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import { createBrowserRouter, Navigate, RouterProvider, useLocation, Outlet } from "react-router";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import "./i18n";
import "./styles.css";
import { ApiError } from "./api";
import { AuthProvider, useAuth } from "./auth";
import { LiveProvider } from "./live";
import Layout from "./components/Layout";
import { Loading } from "./components/common";
import Login from "./pages/Login";

// Pages are split so the first paint loads only what it shows.
const Overview = lazy(() => import("./pages/Overview"));
const Search = lazy(() => import("./pages/Search"));
const Alerts = lazy(() => import("./pages/Alerts"));
const AlertPage = lazy(() => import("./pages/AlertPage"));
const AttackTechnique = lazy(() => import("./pages/AttackTechnique"));
const Rules = lazy(() => import("./pages/Rules"));
const RuleEditor = lazy(() => import("./pages/RuleEditor"));
const Settings = lazy(() => import("./pages/Settings"));
const Intel = lazy(() => import("./pages/Intel"));
const Audit = lazy(() => import("./pages/Audit"));
const DataInventory = lazy(() => import("./pages/DataInventory"));
const Incidents = lazy(() => import("./pages/Incidents"));
const IncidentPage = lazy(() => import("./pages/IncidentPage"));
const Assets = lazy(() => import("./pages/Assets"));
const AssetPage = lazy(() => import("./pages/AssetPage"));
const Vulns = lazy(() => import("./pages/Vulns"));
const RiskRanking = lazy(() => import("./pages/RiskRanking"));
const Warnings = lazy(() => import("./pages/Warnings"));
const NotFound = lazy(() => import("./pages/NotFound"));

const qc = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 15_000,
      refetchOnWindowFocus: false,
      retry: (n, e) => !(e instanceof ApiError && e.status < 500) && n < 2,
    },
  },
});

function RequireAuth({ children }: { children: ReactNode }) {
  const { user, loading } = useAuth();
  const loc = useLocation();
  if (loading) return <Loading />;
  if (!user) return <Navigate to={`/login?next=${encodeURIComponent(loc.pathname + loc.search)}`} replace />;
  return <LiveProvider enabled>{children}</LiveProvider>;
}

/** The first page the caller's roles may read (an auditor lands on the
 * audit trail, a system administrator on settings). */
function Home() {
  const { can } = useAuth();
  const to = can("overview:read") ? "/overview" : can("audit:read") ? "/audit" : "/settings";
  return <Navigate to={to} replace />;
}

const page = (el: ReactNode) => <Suspense fallback={<Loading />}>{el}</Suspense>;

const router = createBrowserRouter([
  {
    element: (
      <AuthProvider>
        <Outlet />
      </AuthProvider>
    ),
    children: [
      { path: "/login", element: <Login /> },
      {
        element: (
          <RequireAuth>
            <Layout />
          </RequireAuth>
        ),
        children: [
          { index: true, element: <Home /> },
          { path: "/overview", element: page(<Overview />) },
          { path: "/search", element: page(<Search />) },
          { path: "/alerts", element: page(<Alerts />) },
          { path: "/alerts/:id", element: page(<AlertPage />) },
          { path: "/attack/:id", element: page(<AttackTechnique />) },
          { path: "/attack/:id/:sub", element: page(<AttackTechnique />) },
          { path: "/rules", element: page(<Rules />) },
          { path: "/rules/new", element: page(<RuleEditor />) },
          { path: "/rules/:id", element: page(<RuleEditor />) },
          { path: "/intel", element: page(<Intel />) },
          { path: "/audit", element: page(<Audit />) },
          { path: "/data", element: page(<DataInventory />) },
          { path: "/incidents", element: page(<Incidents />) },
          { path: "/incidents/:id", element: page(<IncidentPage />) },
          { path: "/risk/assets", element: page(<Assets />) },
          { path: "/risk/assets/:id", element: page(<AssetPage />) },
          { path: "/risk/vulns", element: page(<Vulns />) },
          { path: "/risk/ranking", element: page(<RiskRanking />) },
          { path: "/risk/warnings", element: page(<Warnings />) },
          { path: "/settings", element: page(<Settings />) },
          { path: "*", element: page(<NotFound />) },
        ],
      },
    ],
  },
]);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={qc}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
